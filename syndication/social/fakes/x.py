"""X's stand-in: OAuth 2.0 with PKCE, users/me, tweets and the v2 media upload."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from datetime import UTC, datetime

from werkzeug.wrappers import Request, Response

from syndication.social.fakes.base import (
    _URL,
    FakeNetwork,
    _image_size,
    _json,
    _snowflake,
)


def s256(verifier: str) -> str:
    """The PKCE S256 challenge for ``verifier`` (RFC 7636)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                    ).rstrip(b"=").decode()


class FakeX(FakeNetwork):
    """X API v2 OAuth 2.0: /i/oauth2/authorize (PKCE required), /2/oauth2/token (confidential
    client with HTTP Basic, two-hour tokens, rotating refresh tokens), /2/oauth2/revoke and
    /2/users/me. Posting: /2/media/upload (one shot) and /2/media/metadata, /2/tweets
    (create, delete; links shown as t.co links) and /2/users/{id}/tweets. Every token acts
    for ``user``; the ``media.write`` scope is not checked."""

    label = "X"
    access_seconds = 7200

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.user = {"id": "1458312046218625024", "name": "Northwind IT",
                     "username": "northwind_it",
                     "profile_image_url": "https://pbs.twimg.example/northwind.jpg"}
        #: Verifiers presented at the token endpoint that did not match their challenge.
        self.pkce_failures = 0

    def routes(self):
        """The endpoints this network has, by (method, path)."""
        return {("GET", "/i/oauth2/authorize"): lambda r: self._authorize(r, pkce=True),
                ("POST", "/i/oauth2/authorize"): lambda r: self._authorize(r, pkce=True),
                ("POST", "/2/oauth2/token"): self.token,
                ("POST", "/2/oauth2/revoke"): self.revoke,
                ("GET", "/2/users/me"): self.me,
                ("POST", "/2/media/upload"): self.upload_media,
                ("POST", "/2/media/metadata"): self.media_metadata,
                ("POST", "/2/tweets"): self.create_tweet}

    def fallback(self, request: Request):
        """Tweets and users are addressed by id in the path."""
        if request.method == "DELETE" and request.path.startswith("/2/tweets/"):
            return self.delete_tweet
        if request.method == "GET" and re.fullmatch(r"/2/users/\d+/tweets", request.path):
            return self.user_tweets
        return None

    def token(self, request: Request) -> Response:
        """The token endpoint: exchange a code, or refresh."""
        if not self._client_ok(request, basic=True):
            return _json({"error": "unauthorized_client",
                          "error_description": "Missing valid authorization header"}, 401)
        grant_type = request.form.get("grant_type")
        if grant_type == "authorization_code":
            code = self._take_code(request.form.get("code"), request.form.get("redirect_uri"))
            verifier = request.form.get("code_verifier", "")
            if code is not None and s256(verifier) != code.challenge:
                self.pkce_failures += 1
                code = None
            if code is None:
                return _json({"error": "invalid_request", "error_description":
                              "Value passed for the authorization code was invalid."}, 400)
            issued = self._issue(secrets.token_hex(8), refresh="offline.access" in code.scope)
            return _json({"token_type": "bearer", **issued, "scope": code.scope})
        if grant_type == "refresh_token":
            with self._lock:
                token = self.tokens.get(request.form.get("refresh_token", ""))
                if token is None or token.kind != "refresh" or self._state(token) != "ok":
                    return _json({"error": "invalid_request", "error_description":
                                  "Value passed for the token was invalid."}, 400)
                token.revoked = True  # X rotates refresh tokens: the old one is spent
                issued = self._issue(token.grant, refresh=True)
            return _json({"token_type": "bearer", **issued,
                          "scope": "tweet.read tweet.write users.read offline.access media.write"})
        return _json({"error": "invalid_request",
                      "error_description": "Missing required parameter [grant_type]."}, 400)

    def revoke(self, request: Request) -> Response:
        """Revoke a token and every token of the same grant."""
        if not self._client_ok(request, basic=True):
            return _json({"error": "unauthorized_client",
                          "error_description": "Missing valid authorization header"}, 401)
        self._revoke(request.form.get("token", ""))
        return _json({"revoked": True})

    def me(self, request: Request) -> Response:
        """The user the token acts for."""
        _, state = self._bearer(request)
        if state != "ok":
            return _json({"title": "Unauthorized", "type": "about:blank", "status": 401,
                          "detail": "Unauthorized"}, 401)
        return _json({"data": self.user})

    # --- posting: /2/tweets and /2/media --------------------------------------------------

    #: Fields ``POST /2/tweets`` takes.
    TWEET_FIELDS = {"text", "media", "reply", "quote_tweet_id", "poll", "reply_settings",
                    "for_super_followers_only", "direct_message_deep_link", "geo",
                    "nullcast", "card_uri"}
    MEDIA_CATEGORIES = {"tweet_image", "tweet_gif", "tweet_video", "dm_image", "dm_gif",
                        "dm_video", "subtitles"}

    @staticmethod
    def _problem(status: int, title: str, detail: str, kind: str = "about:blank",
                 **extra) -> Response:
        return _json({"title": title, "detail": detail, "type": kind, "status": status,
                      **extra}, status)

    def _invalid(self, message: str, parameter: str) -> Response:
        return _json({"errors": [{"parameters": {parameter: []}, "message": message}],
                      "title": "Invalid Request", "detail": "One or more parameters to your "
                      "request was invalid.",
                      "type": "https://api.twitter.com/2/problems/invalid-request"}, 400)

    def _user_or_refusal(self, request: Request) -> Response | None:
        _, state = self._bearer(request)
        if state != "ok":
            return self._problem(401, "Unauthorized", "Unauthorized")
        return None

    def _server_error(self, status: int) -> Response:
        return self._problem(status, "Service Unavailable" if status == 503 else
                             "Internal Server Error", "Service Unavailable")

    def _too_many(self, reset_in: float) -> Response:
        response = self._problem(429, "Too Many Requests", "Too Many Requests")
        response.headers.update({"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0",
                                 "x-rate-limit-reset": str(int(time.time() + reset_in))})
        return response

    @staticmethod
    def shorten(text: str) -> str:
        """The text as X shows it: every link wrapped as a t.co link."""
        return _URL.sub(lambda _: f"https://t.co/{secrets.token_urlsafe(7)[:10]}", text)

    def _tweet(self, post: dict, fields: str = "") -> dict:
        tweet = {"id": post["id"], "text": post["shown"], "edit_history_tweet_ids": [post["id"]]}
        if "created_at" in fields:
            tweet["created_at"] = datetime.fromtimestamp(post["created"], UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z")
        return tweet

    def upload_media(self, request: Request) -> Response:
        """``POST /2/media/upload`` (one shot, multipart): the media id."""
        refused = self._user_or_refusal(request)
        if refused is not None:
            return refused
        seen = self._receive(request)
        if "media" not in seen.files:
            return self._invalid("The `media` field is required.", "media")
        category = seen.form.get("media_category", "tweet_image")
        if category not in self.MEDIA_CATEGORIES:
            return self._invalid(f"`{category}` is not a valid media_category.",
                                 "media_category")
        _, mimetype, data = seen.files["media"]
        problem = self._image_problem(data)
        if problem:
            return self._invalid(problem, "media")
        media_id = _snowflake()
        self._store_media(media_id, self.user["id"], data, seen.form.get("media_type")
                          or mimetype)
        width, height = _image_size(data)
        return _json({"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(data),
                               "expires_after_secs": 86400, "image": {
                                   "image_type": seen.form.get("media_type") or mimetype,
                                   "w": width, "h": height}}})

    def media_metadata(self, request: Request) -> Response:
        """``POST /2/media/metadata``: alt text for an uploaded image."""
        refused = self._user_or_refusal(request)
        if refused is not None:
            return refused
        body = self._receive(request).json or {}
        item = self.media.get(str(body.get("id", ""))) if isinstance(body, dict) else None
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text") \
            if item else None
        if item is None or not isinstance(alt, str):
            return self._invalid("The `id` and `metadata.alt_text.text` fields are required.",
                                 "id")
        item["alt"] = alt
        return _json({"data": {"id": item["id"],
                               "associated_metadata": {"alt_text": {"text": alt}}}})

    def create_tweet(self, request: Request) -> Response:
        """``POST /2/tweets``: 201 with the tweet (its links as t.co links)."""
        refused = self._user_or_refusal(request)
        if refused is not None:
            return refused
        body = self._receive(request).json
        if not isinstance(body, dict):
            return self._invalid("The request body must be a JSON object.", "body")
        unknown = sorted(set(body) - self.TWEET_FIELDS)
        if unknown:
            return self._invalid(f"The `{unknown[0]}` field is not allowed.", unknown[0])
        media_ids = (body.get("media") or {}).get("media_ids") or []
        if not isinstance(body.get("text", ""), str) or not (body.get("text") or media_ids):
            return self._invalid("Post text or media is required.", "text")
        if any(not isinstance(m, str) or self.media.get(m, {}).get("owner") != self.user["id"]
               for m in media_ids):
            return self._invalid("Your media IDs are invalid.", "media.media_ids")
        held = self._before_post()
        if held is not None:
            return held
        text = body.get("text") or ""
        if self._duplicate_of(self.user["id"], text) is not None:
            return self._problem(403, "Forbidden", "You are not allowed to create a Tweet with "
                                 "duplicate content.")
        links = _URL.findall(text)
        post = self._store_post(_snowflake(), self.user["id"], text, list(media_ids),
                                links[0] if links else None, shown=self.shorten(text))
        return self._answer_post(_json({"data": self._tweet(post)}, 201))

    def user_tweets(self, request: Request) -> Response:
        """``GET /2/users/{id}/tweets``: the user's tweets since ``start_time``, newest
        first."""
        refused = self._user_or_refusal(request)
        if refused is not None:
            return refused
        self._receive(request)
        try:
            limit = int(request.args.get("max_results", 10))
            since = datetime.fromisoformat(request.args["start_time"].replace("Z", "+00:00")
                                           ).timestamp() if "start_time" in request.args else 0
        except ValueError:
            return self._invalid("Invalid max_results or start_time.", "start_time")
        if not 5 <= limit <= 100:
            return self._invalid(f"The `max_results` query parameter value [{limit}] is not "
                                 "between 5 and 100", "max_results")
        user_id = request.path.split("/")[3]
        found = [p for p in reversed(self.posts_by(user_id)) if p["created"] >= since][:limit]
        if not found:
            return _json({"meta": {"result_count": 0}})
        fields = request.args.get("tweet.fields", "")
        return _json({"data": [self._tweet(p, fields) for p in found],
                      "meta": {"result_count": len(found), "newest_id": found[0]["id"],
                               "oldest_id": found[-1]["id"]}})

    def delete_tweet(self, request: Request) -> Response:
        """``DELETE /2/tweets/{id}``."""
        refused = self._user_or_refusal(request)
        if refused is not None:
            return refused
        self._receive(request)
        tweet_id = request.path.rsplit("/", 1)[-1]
        with self._lock:
            post = next((p for p in self.posts if p["id"] == tweet_id), None)
            if post is None:
                return self._problem(404, "Not Found Error", f"Could not find tweet with id: "
                                     f"[{tweet_id}].", "https://api.twitter.com/2/problems/"
                                     "resource-not-found")
            if post["author"] != self.user["id"]:
                return self._problem(403, "Forbidden", "You are not allowed to delete this "
                                     "Tweet.")
            self._forget(post)
        return _json({"data": {"deleted": True}})
