"""Publishing on the networks: what a post is, what can go wrong, and each network's API.

The adapters in ``syndication/social/networks.py`` (one per network) are built from two
halves: connecting (OAuth, identities) there, publishing here, as one class per network that
the adapter extends: ``LinkedInPosts`` (Posts and Images APIs, Rest.li 2.0 and the
``LinkedIn-Version`` header), ``XPosts`` (API v2 ``/2/tweets`` and ``/2/media/upload``) and
``FacebookPosts`` (Graph API ``/{page-id}/feed`` and ``/{page-id}/photos``).

Publishing is ``publish`` (upload the image, create the post), ``find_published`` (after a
call whose answer was lost: is the post there?) and ``delete``. Every failure becomes one of
the errors below, so the caller decides by type: ``TokenRejected`` (refresh or reconnect),
``RateLimited`` (wait ``retry_after``), ``OutcomeUnknown`` (ask ``find_published`` before
trying again), ``PostRejected`` (the partner must change something), or a ``NetworkError``
worth retrying later unless ``permanent``. The errors live here, below the adapters, because
connecting raises them too; ``networks`` re-exports them, so callers import from there.
"""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import requests
from urllib3.exceptions import ProtocolError

from syndication.social.models import AccountKind, Network


class NetworkError(Exception):
    """A network call failed. ``permanent``: asking again will not help (reconnect)."""

    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class TokenRejected(NetworkError):
    """The network refuses the token: revoked, expired or the app was removed."""

    def __init__(self, message: str):
        super().__init__(message, permanent=True)


class RateLimited(NetworkError):
    """The network asks us to slow down; ``retry_after`` seconds is when to ask again."""

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message, permanent=False)
        self.retry_after = retry_after


class OutcomeUnknown(NetworkError):
    """The post was sent but no answer came back: it may exist. Ask ``find_published``
    before sending it again."""

    def __init__(self, message: str):
        super().__init__(message, permanent=False)


class PostRejected(NetworkError):
    """The network refused this post; the same post will be refused again. ``reason``:
    ``duplicate``, ``media``, ``text`` or ``forbidden``; the message says what to change."""

    def __init__(self, message: str, *, reason: str = "text"):
        super().__init__(message, permanent=True)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """The account a post goes to, and the token that acts for it."""

    kind: AccountKind
    external_id: str
    access_token: str = field(repr=False)


@dataclass(frozen=True)
class PostContent:
    """One post as it should appear. ``link`` becomes the link card where the network has
    one, and is appended to the text where it has not (or when an image takes the card's
    place). ``link_title`` names the card where the network wants a title (LinkedIn)."""

    text: str
    link: str | None = None
    image: bytes | None = field(default=None, repr=False)
    image_type: str | None = None
    image_alt: str = ""
    link_title: str = ""


@dataclass(frozen=True)
class Published:
    """A post on the network: its id there and where people see it."""

    external_id: str
    url: str


_URL = re.compile(r"https?://[^\s<>\"']+", re.I)
_URL_TRAILING = ".,;:!?)]}'\""


def _urls(text: str):
    """(start, end) of each URL in ``text``, without the punctuation that ends a sentence."""
    for match in _URL.finditer(text):
        url = match.group().rstrip(_URL_TRAILING)
        yield match.start(), match.start() + len(url)


def with_link(content: PostContent) -> str:
    """The text with the link appended, unless the text already carries it."""
    if not content.link or content.link in content.text:
        return content.text
    return f"{content.text.rstrip()}\n\n{content.link}" if content.text.strip() else content.link


#: LinkedIn's "little" text format reserves these; unescaped, LinkedIn cuts the post short at
#: the first one. ``#`` before a word stays: that is how little writes a hashtag.
_LITTLE_RESERVED = re.compile(r"[\\|{}@\[\]()<>*_~]|#(?!\w)")


def little_text(text: str) -> str:
    """``text`` as LinkedIn commentary: reserved characters escaped, except in links (which
    LinkedIn links as they are) and in ``#hashtags``."""
    def escape(part: str) -> str:
        return _LITTLE_RESERVED.sub(lambda m: "\\" + m.group(), part)
    out, last = [], 0
    for start, end in _urls(text):
        out += [escape(text[last:start]), text[start:end]]
        last = end
    return "".join(out) + escape(text[last:])


def plain_text(commentary: str) -> str:
    """LinkedIn commentary back as the text a person reads."""
    return re.sub(r"\\(.)", r"\1", commentary, flags=re.S)


def same_text(posted: str, text: str) -> bool:
    """Whether a post the network lists is ``text``: compared without links (networks wrap
    or shorten them, and a link may have been appended), entities and spacing."""
    def bare(value: str) -> str:
        value = html.unescape(value)
        for start, end in reversed(list(_urls(value))):
            value = value[:start] + value[end:]
        return " ".join(value.split())
    return bare(posted) == bare(text)


def _since(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _lost_answer(exc: requests.RequestException) -> bool:
    """Whether the request reached the network before it failed: the answer, not the
    connection, was lost (a read timeout, the connection dropped mid-response)."""
    if isinstance(exc, (requests.ReadTimeout, requests.exceptions.ChunkedEncodingError)):
        return True
    cause = exc.args[0] if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(cause, ProtocolError)


class Publisher:
    """What every network's publishing shares: one HTTP call with its failures mapped to the
    errors above. The adapter supplies ``network``, ``timeout`` and ``_error_message``."""

    network: Network
    timeout: float
    #: What the network's error body says, in a line (the adapter knows its error format).
    _error_message: Any

    #: Seconds to wait after a 429 that does not say how long.
    default_retry_after = 60.0

    def _call(self, method: str, url: str, token: str, *, creates: bool = False,
              reason: str = "text", accept: tuple[int, ...] = (), headers: dict | None = None,
              **kwargs) -> requests.Response:
        """One publishing call, its failures mapped to the errors above. ``creates``: the call
        makes the post, so a lost answer is ``OutcomeUnknown``. ``reason``: what a refusal is
        about. ``accept``: error statuses the caller handles itself."""
        try:
            response = requests.request(method, url, timeout=self.timeout, headers={
                "Authorization": f"Bearer {token}", **(headers or {})}, **kwargs)
        except requests.RequestException as exc:
            if creates and _lost_answer(exc):
                raise OutcomeUnknown(
                    f"{self.network.label} did not answer in time, so the post may or may not "
                    "be there; it is looked up before any new attempt.") from None
            raise NetworkError(f"{self.network.label} could not be reached ({type(exc).__name__})",
                               permanent=False) from None
        if response.status_code >= 400 and response.status_code not in accept:
            self._refuse(response, reason)
        return response

    def _answer(self, response: requests.Response, *, creates: bool = False) -> dict:
        """The JSON body of a successful call."""
        try:
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
            return body
        except ValueError:
            if creates:  # it said yes, but not to what: look the post up
                raise OutcomeUnknown(f"{self.network.label} accepted the post but its answer "
                                     "was unreadable; it is looked up before any new attempt."
                                     ) from None
            raise NetworkError(f"{self.network.label} answered something unreadable",
                               permanent=False) from None

    def _refuse(self, response: requests.Response, reason: str = "text") -> NoReturn:
        """Raise the error a failed publishing call stands for."""
        status, label = response.status_code, self.network.label
        detail = self._error_message(response)
        if status == 401:
            raise TokenRejected(f"{label}: {detail}")
        if status == 429:
            raise self._rate_limited(self._retry_after(response))
        if status >= 500:
            raise NetworkError(f"{label} answered {status}: {detail}", permanent=False)
        if status == 403:
            reason = "forbidden"
        raise self._rejected(reason, detail)

    def _rate_limited(self, seconds: float) -> RateLimited:
        return RateLimited(f"{self.network.label} limits how often this account may post; "
                           f"trying again in {max(1, round(seconds / 60))} min.",
                           retry_after=seconds)

    def _rejected(self, reason: str, detail: str) -> PostRejected:
        label = self.network.label
        message = {
            "duplicate": f"{label} refused the post as a duplicate: the account already has "
                         "one with the same text. Change the text to publish it again.",
            "media": f"{label} refused the image ({detail}). Use a JPEG or PNG image and "
                     "publish again.",
            "forbidden": f"{label} does not let this account post ({detail}). Check your role "
                         "on the account, or reconnect it and allow posting.",
        }.get(reason, f"{label} refused the post ({detail}). Edit the text and publish again.")
        return PostRejected(message, reason=reason)

    def _retry_after(self, response: requests.Response) -> float:
        try:
            return max(1.0, float(response.headers["Retry-After"]))
        except (KeyError, ValueError):
            return self.default_retry_after


class LinkedInPosts(Publisher):
    """LinkedIn's Posts and Images APIs (Rest.li 2.0, versioned). Needs ``api`` and
    ``version`` from the adapter."""

    api: str
    version: str

    def _rest(self, method: str | None = None) -> dict:
        headers = {"LinkedIn-Version": self.version, "X-Restli-Protocol-Version": "2.0.0"}
        return {**headers, "X-RestLi-Method": method} if method else headers

    @staticmethod
    def _author(target: Target) -> str:
        kind = "organization" if target.kind is AccountKind.ORGANIZATION else "person"
        return f"urn:li:{kind}:{target.external_id}"

    @staticmethod
    def _url(urn: str) -> str:
        return f"https://www.linkedin.com/feed/update/{urn}/"

    def publish(self, target: Target, content: PostContent) -> Published:
        """Create a post (``POST /rest/posts``): with the image uploaded first, or with the
        link as an article card. The post's URN comes back in the ``x-restli-id`` header."""
        author = self._author(target)
        post: dict[str, Any] = {
            "author": author,
            "commentary": little_text(with_link(content) if content.image else content.text),
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if content.image:
            media = {"id": self._upload_image(target, author, content)}
            if content.image_alt:
                media["altText"] = content.image_alt[:4086]
            post["content"] = {"media": media}
        elif content.link:
            title = content.link_title or urlsplit(content.link).hostname or content.link
            post["content"] = {"article": {"source": content.link, "title": title[:400]}}
        response = self._call("POST", f"{self.api}/rest/posts", target.access_token,
                              creates=True, headers=self._rest(), json=post)
        urn = response.headers.get("x-restli-id")
        if not urn:
            raise OutcomeUnknown("LinkedIn accepted the post without saying its id; it is "
                                 "looked up before any new attempt.")
        return Published(urn, self._url(urn))

    def _upload_image(self, target: Target, author: str, content: PostContent) -> str:
        """Register an upload (Images API), then PUT the bytes: the image's URN."""
        answer = self._answer(self._call(
            "POST", f"{self.api}/rest/images", target.access_token, reason="media",
            params={"action": "initializeUpload"}, headers=self._rest(),
            json={"initializeUploadRequest": {"owner": author}}))
        upload = answer.get("value") or {}
        if not upload.get("uploadUrl") or not upload.get("image"):
            raise NetworkError("LinkedIn did not say where to upload the image",
                               permanent=False)
        self._call("PUT", upload["uploadUrl"], target.access_token, reason="media",
                   data=content.image,
                   headers={"Content-Type": content.image_type or "application/octet-stream"})
        return upload["image"]

    def find_published(self, target: Target, text: str, since: datetime) -> Published | None:
        """The account's post with ``text`` created since ``since``, if any. LinkedIn lists
        an organization's posts with ``r_organization_social`` and a member's only with the
        restricted ``r_member_social``; without them the lookup fails for good."""
        try:
            answer = self._answer(self._call(
                "GET", f"{self.api}/rest/posts", target.access_token,
                headers=self._rest("FINDER"), params={
                    "q": "author", "author": self._author(target), "count": 50,
                    "sortBy": "CREATED"}))
        except PostRejected as exc:
            raise NetworkError("LinkedIn does not let this app list the account's posts, so "
                               f"whether the post went out cannot be checked ({exc.message})",
                               permanent=True) from None
        after_ms = _since(since).timestamp() * 1000
        for element in answer.get("elements") or []:
            if (element.get("createdAt") or element.get("publishedAt") or 0) < after_ms:
                continue
            if same_text(plain_text(element.get("commentary") or ""), text):
                return Published(element["id"], self._url(element["id"]))
        return None

    def delete(self, target: Target, external_id: str) -> None:
        """Delete a post; one already gone counts as deleted."""
        self._call("DELETE", f"{self.api}/rest/posts/{quote(external_id, safe='')}",
                   target.access_token, accept=(404,), headers=self._rest("DELETE"))

    def _refuse(self, response: requests.Response, reason: str = "text") -> NoReturn:
        if response.status_code in (400, 409, 422) and \
                "duplicate" in self._error_message(response).lower():
            raise self._rejected("duplicate", self._error_message(response))
        super()._refuse(response, reason)


class XPosts(Publisher):
    """X API v2: ``POST /2/tweets`` and the one-shot ``POST /2/media/upload``. Needs ``api``
    from the adapter."""

    api: str

    def publish(self, target: Target, content: PostContent) -> Published:
        """Post a tweet, the link in its text (X makes the card from it) and the image, if
        any, uploaded first."""
        body: dict[str, Any] = {"text": with_link(content)}
        if content.image:
            body["media"] = {"media_ids": [self._upload_media(target, content)]}
        response = self._call("POST", f"{self.api}/2/tweets", target.access_token,
                              creates=True, json=body)
        tweet = self._answer(response, creates=True).get("data") or {}
        if not tweet.get("id"):
            raise OutcomeUnknown("X accepted the post without saying its id; it is looked up "
                                 "before any new attempt.")
        return Published(str(tweet["id"]), f"https://x.com/i/web/status/{tweet['id']}")

    def _upload_media(self, target: Target, content: PostContent) -> str:
        """One-shot upload (``POST /2/media/upload``), then its alt text: the media id."""
        mimetype = content.image_type or "application/octet-stream"
        answer = self._answer(self._call(
            "POST", f"{self.api}/2/media/upload", target.access_token, reason="media",
            files={"media": ("image", content.image, mimetype)},
            data={"media_category": "tweet_image", "media_type": mimetype}))
        media_id = str((answer.get("data") or {}).get("id") or "")
        if not media_id:
            raise NetworkError("X did not say the uploaded image's id", permanent=False)
        if content.image_alt:
            self._call("POST", f"{self.api}/2/media/metadata", target.access_token,
                       reason="media", json={"id": media_id, "metadata": {
                           "alt_text": {"text": content.image_alt[:1000]}}})
        return media_id

    def find_published(self, target: Target, text: str, since: datetime) -> Published | None:
        """The account's tweet with ``text`` posted since ``since``, if any."""
        answer = self._answer(self._call(
            "GET", f"{self.api}/2/users/{target.external_id}/tweets", target.access_token,
            params={"max_results": 20, "tweet.fields": "created_at",
                    "start_time": _since(since).strftime("%Y-%m-%dT%H:%M:%SZ")}))
        for tweet in answer.get("data") or []:
            if same_text(tweet.get("text") or "", text):
                return Published(str(tweet["id"]), f"https://x.com/i/web/status/{tweet['id']}")
        return None

    def delete(self, target: Target, external_id: str) -> None:
        """Delete a tweet; one already gone counts as deleted."""
        self._call("DELETE", f"{self.api}/2/tweets/{external_id}", target.access_token,
                   accept=(404,))

    def _refuse(self, response: requests.Response, reason: str = "text") -> NoReturn:
        if response.status_code == 403 and "duplicate" in self._error_message(response).lower():
            raise self._rejected("duplicate", self._error_message(response))
        super()._refuse(response, reason)

    def _retry_after(self, response: requests.Response) -> float:
        """X says when the window resets (``x-rate-limit-reset``, epoch seconds)."""
        try:
            return max(1.0, float(response.headers["x-rate-limit-reset"]) - time.time())
        except (KeyError, ValueError):
            return super()._retry_after(response)


class FacebookPosts(Publisher):
    """Graph API for Pages, with the Page's own token. Needs ``graph`` from the adapter."""

    graph: str

    #: Graph error codes that mean "too many calls" (app, user, page, custom, Pages BUC).
    RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001})
    #: The headers where Graph says how many minutes until calls are allowed again.
    USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-Page-Usage", "X-App-Usage")

    def publish(self, target: Target, content: PostContent) -> Published:
        """A photo post (``/photos`` with the image and the text as its message, which then
        carries the link) or a feed post with the link as its card."""
        page = target.external_id
        if content.image:
            response = self._call(
                "POST", f"{self.graph}/{page}/photos", target.access_token, creates=True,
                reason="media", data={"message": with_link(content), "published": "true"},
                files={"source": ("image", content.image,
                                  content.image_type or "application/octet-stream")})
            answer = self._answer(response, creates=True)
            post_id = answer.get("post_id") or (f"{page}_{answer['id']}" if answer.get("id")
                                                else None)
        else:
            fields = {"message": content.text}
            if content.link:
                fields["link"] = content.link
            response = self._call("POST", f"{self.graph}/{page}/feed", target.access_token,
                                  creates=True, data=fields)
            post_id = self._answer(response, creates=True).get("id")
        if not post_id:
            raise OutcomeUnknown("Facebook accepted the post without saying its id; it is "
                                 "looked up before any new attempt.")
        return Published(str(post_id), f"https://www.facebook.com/{post_id}")

    def find_published(self, target: Target, text: str, since: datetime) -> Published | None:
        """The Page's post with ``text`` created since ``since``, if any."""
        answer = self._answer(self._call(
            "GET", f"{self.graph}/{target.external_id}/feed", target.access_token,
            params={"fields": "id,message,created_time", "limit": 25,
                    "since": int(_since(since).timestamp())}))
        for post in answer.get("data") or []:
            if same_text(post.get("message") or "", text):
                return Published(str(post["id"]), f"https://www.facebook.com/{post['id']}")
        return None

    def delete(self, target: Target, external_id: str) -> None:
        """Delete a post; one already gone counts as deleted."""
        response = self._call("DELETE", f"{self.graph}/{external_id}", target.access_token,
                              accept=(400, 404))
        if response.status_code >= 400 and self._graph_error(response).get("error_subcode") \
                != 33:  # 33: the object does not exist (any more)
            self._refuse(response)

    @staticmethod
    def _graph_error(response: requests.Response) -> dict:
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            return {}
        return error if isinstance(error, dict) else {}

    def _refuse(self, response: requests.Response, reason: str = "text") -> NoReturn:
        """Graph puts what went wrong in ``error.code``, whatever the HTTP status."""
        error = self._graph_error(response)
        code, detail = error.get("code"), self._error_message(response)
        if code == 190:
            raise TokenRejected(f"Facebook: {detail}")
        if code in self.RATE_LIMIT_CODES:
            raise self._rate_limited(self._retry_after(response))
        if code == 506:
            raise self._rejected("duplicate", detail)
        if code in (1, 2) or error.get("is_transient"):
            raise NetworkError(f"Facebook answered {response.status_code}: {detail}",
                               permanent=False)
        if code == 324 or (code == 100 and "image" in detail.lower()):
            raise self._rejected("media", detail)
        if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
            raise self._rejected("forbidden", detail)
        super()._refuse(response, reason)

    def _retry_after(self, response: requests.Response) -> float:
        """The longest ``estimated_time_to_regain_access`` (minutes) the usage headers give."""
        minutes = 0.0
        for name in self.USAGE_HEADERS:
            try:
                usage = json.loads(response.headers.get(name) or "{}")
            except ValueError:
                continue
            entries = [usage] if "call_count" in usage else [
                entry for value in usage.values() if isinstance(value, list) for entry in value]
            for entry in entries:
                try:
                    minutes = max(minutes, float(entry["estimated_time_to_regain_access"]))
                except (KeyError, TypeError, ValueError):
                    continue
        return minutes * 60 if minutes else super()._retry_after(response)
