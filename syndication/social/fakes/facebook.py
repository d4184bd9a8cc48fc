"""Facebook's stand-in: the Graph API's OAuth, me/accounts with Page tokens, feed and photos."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

from werkzeug.wrappers import Request, Response

from syndication.social.fakes.base import (
    _URL,
    FakeNetwork,
    Received,
    Token,
    _json,
    _snowflake,
)


class FakeFacebook(FakeNetwork):
    """Graph API: /dialog/oauth, /oauth/access_token (code for a short-lived user token,
    ``fb_exchange_token`` for a 60-day one) and /me/accounts with each Page's own token.
    Posting, with that Page's token only: /{page-id}/feed (create, list), /{page-id}/photos
    and DELETE /{post-id}; errors carry Graph's codes (190 token, 200 permission, 324
    image, 506 duplicate, 80001 Page rate limit)."""

    label = "Facebook"
    access_seconds = 2 * 3600
    long_lived_seconds = 60 * 24 * 3600
    #: Photos over 4 MB are refused.
    max_image_bytes = 4 * 1024 * 1024

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        #: The user's Pages: id -> (name, tasks).
        self.pages: dict[str, tuple[str, list[str]]] = {
            "104857": ("Northwind IT Berlin", ["ANALYZE", "ADVERTISE", "CREATE_CONTENT",
                                               "MODERATE", "MANAGE"]),
            "104858": ("Northwind IT Hamburg", ["ANALYZE", "CREATE_CONTENT"]),
            "104859": ("Northwind Fan Club", ["ANALYZE"]),  # may not post: never offered
        }

    def routes(self):
        """The endpoints this network has, by (method, path)."""
        return {("GET", "/dialog/oauth"): self._authorize,
                ("POST", "/dialog/oauth"): self._authorize,
                ("GET", "/oauth/access_token"): self.token,
                ("GET", "/me/accounts"): self.accounts}

    def fallback(self, request: Request):
        """Pages and posts are addressed by id in the path."""
        parts = request.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] in self.pages:
            return {("POST", "feed"): self.create_post, ("GET", "feed"): self.feed,
                    ("POST", "photos"): self.create_photo}.get((request.method, parts[1]))
        if len(parts) == 1 and request.method == "DELETE":
            return self.delete_post
        return None

    def issue_token_for_tests(self, *, page: str | None = None) -> str:
        """A Page token (the kind that posts), for ``page`` or the first Page."""
        token = Token(secrets.token_urlsafe(24), secrets.token_hex(8), None,
                      page=page or next(iter(self.pages)))
        self.tokens[token.value] = token
        return token.value

    def _error(self, message: str, code: int, status: int = 400, subcode: int | None = None
               ) -> Response:
        error = {"message": message, "type": "OAuthException", "code": code,
                 "fbtrace_id": secrets.token_urlsafe(8)}
        if subcode:
            error["error_subcode"] = subcode
        return _json({"error": error}, status)

    def token(self, request: Request) -> Response:
        """The token endpoint: exchange a code, or a short-lived user token for a 60-day one."""
        args = request.args
        if args.get("client_id") != self.client_id or args.get("client_secret") != \
                self.client_secret:
            return self._error("Error validating client secret.", 1)
        if args.get("grant_type") == "fb_exchange_token":
            token = self.tokens.get(args.get("fb_exchange_token", ""))
            if self._state(token) != "ok":
                return self._error("Error validating access token: Session has expired.", 190)
            long_lived = Token(secrets.token_urlsafe(24), token.grant,
                               self.now() + self.long_lived_seconds)
            self.tokens[long_lived.value] = long_lived
            return _json({"access_token": long_lived.value, "token_type": "bearer",
                          "expires_in": self.long_lived_seconds})
        code = self._take_code(args.get("code"), args.get("redirect_uri"))
        if code is None:
            return self._error("This authorization code has been used.", 100, subcode=36009)
        issued = self._issue(secrets.token_hex(8), refresh=False)
        return _json({**issued, "token_type": "bearer"})

    def accounts(self, request: Request) -> Response:
        """The user's Pages, each with its own Page token."""
        token, state = self._bearer(request)
        if state != "ok":
            return self._error("Error validating access token: The user has not authorized "
                               "application.", 190, status=400, subcode=458)
        data = []
        for page_id, (name, tasks) in self.pages.items():
            page_token = Token(secrets.token_urlsafe(24), token.grant, None, page=page_id)
            self.tokens[page_token.value] = page_token
            data.append({"id": page_id, "name": name, "access_token": page_token.value,
                         "tasks": tasks, "category": "Software",
                         "picture": {"data": {"url": f"https://fb.example/{page_id}.jpg"}}})
        return _json({"data": data, "paging": {"cursors": {"before": "QVFIU", "after": "QVFIX"}}})

    # --- Pages posting: /{page-id}/feed, /{page-id}/photos ---------------------------------

    def _page_token(self, request: Request, page_id: str) -> Response | None:
        """Refuse unless a live Page token of ``page_id``, whose member may create content
        there, is presented."""
        token, state = self._bearer(request)
        if state != "ok":
            return self._error("Error validating access token: The session has been "
                               "invalidated because the user changed their password or "
                               "Facebook has changed the session for security reasons.",
                               190, subcode=460 if state == "revoked" else 463)
        if token.page != page_id or "CREATE_CONTENT" not in self.pages[page_id][1]:
            return self._error("(#200) If posting to a page, requires both "
                               "pages_read_engagement and pages_manage_posts as an admin with "
                               "sufficient administrative permission", 200, status=403)
        return None

    def _server_error(self, status: int) -> Response:
        response = self._error("An unexpected error has occurred. Please retry your request "
                               "later.", 2, status=status)
        body = json.loads(response.get_data())
        body["error"]["is_transient"] = True
        response.set_data(json.dumps(body))
        return response

    def _too_many(self, reset_in: float) -> Response:
        # Page tokens fall under Business Use Case limits: Graph answers 400 with code 80001
        # and says in X-Business-Use-Case-Usage how many minutes until calls work again.
        response = self._error("(#80001) There have been too many calls to this Page "
                               "account. Wait a bit and try again. For more info, please "
                               "refer to https://developers.facebook.com/docs/graph-api/"
                               "overview/rate-limiting.", 80001)
        minutes = max(1, -(-int(reset_in) // 60))
        response.headers["X-Business-Use-Case-Usage"] = json.dumps({
            next(iter(self.pages)): [{"type": "pages", "call_count": 100, "total_cputime": 20,
                                      "total_time": 25,
                                      "estimated_time_to_regain_access": minutes}]})
        return response

    @staticmethod
    def _params(seen: Received) -> dict:
        """Graph takes parameters in the query, a form or a JSON body alike."""
        params = {**seen.args, **seen.form}
        if isinstance(seen.json, dict):
            params.update({k: v for k, v in seen.json.items() if isinstance(v, str)})
        return params

    def create_post(self, request: Request) -> Response:
        """``POST /{page-id}/feed``: ``{"id": "<page>_<post>"}``."""
        page_id = request.path.strip("/").split("/")[0]
        refused = self._page_token(request, page_id)
        if refused is not None:
            return refused
        params = self._params(self._receive(request))
        message, link = params.get("message", ""), params.get("link")
        if not message and not link:
            return self._error("(#100) Missing message or attachment", 100)
        if link and not _URL.fullmatch(link):
            return self._error("(#100) The parameter link must be a valid URL", 100)
        held = self._before_post()
        if held is not None:
            return held
        if message and self._duplicate_of(page_id, message) is not None:
            return self._error("(#506) Duplicate status message", 506)
        post = self._store_post(f"{page_id}_{_snowflake()}", page_id, message, [], link)
        return self._answer_post(_json({"id": post["id"]}))

    def create_photo(self, request: Request) -> Response:
        """``POST /{page-id}/photos`` with ``source``: ``{"id": <photo>, "post_id": ...}``."""
        page_id = request.path.strip("/").split("/")[0]
        refused = self._page_token(request, page_id)
        if refused is not None:
            return refused
        seen = self._receive(request)
        params = self._params(seen)
        if "source" not in seen.files:
            return self._error("(#324) Requires upload file", 324)
        _, mimetype, data = seen.files["source"]
        problem = self._image_problem(data)
        if problem:
            return self._error(f"(#324) Missing or invalid image file: {problem}", 324)
        held = self._before_post()
        if held is not None:
            return held
        photo_id = _snowflake()
        self._store_media(photo_id, page_id, data, mimetype)
        post = self._store_post(f"{page_id}_{_snowflake()}", page_id,
                                params.get("message", ""), [photo_id], None)
        return self._answer_post(_json({"id": photo_id, "post_id": post["id"]}))

    def feed(self, request: Request) -> Response:
        """``GET /{page-id}/feed``: the Page's posts since ``since``, newest first."""
        page_id = request.path.strip("/").split("/")[0]
        refused = self._page_token(request, page_id)
        if refused is not None:
            return refused
        self._receive(request)
        try:
            since = float(request.args.get("since", 0))
            limit = min(int(request.args.get("limit", 25)), 100)
        except ValueError:
            return self._error("(#100) Invalid since or limit", 100)
        fields = request.args.get("fields", "id").split(",")
        found = [p for p in reversed(self.posts_by(page_id)) if p["created"] >= since][:limit]
        data = []
        for post in found:
            item = {"id": post["id"]}
            if "message" in fields and post["text"]:
                item["message"] = post["text"]
            if "created_time" in fields:
                item["created_time"] = datetime.fromtimestamp(post["created"], UTC).strftime(
                    "%Y-%m-%dT%H:%M:%S+0000")
            data.append(item)
        return _json({"data": data, "paging": {"cursors": {"before": "QVFIU",
                                                           "after": "QVFIX"}}})

    def delete_post(self, request: Request) -> Response:
        """``DELETE /{post-id}``: ``{"success": true}``."""
        post_id = request.path.strip("/")
        post = next((p for p in self.posts if p["id"] == post_id), None)
        if post is None:
            _, state = self._bearer(request)
            if state != "ok":
                return self._page_token(request, "")
            return self._error(f"Unsupported delete request. Object with ID '{post_id}' does "
                               "not exist, cannot be loaded due to missing permissions, or "
                               "does not support this operation.", 100, subcode=33)
        refused = self._page_token(request, post["author"])
        if refused is not None:
            return refused
        self._receive(request)
        with self._lock:
            self._forget(post)
        return _json({"success": True})
