"""LinkedIn's stand-in: OAuth, userinfo, organizationAcls, and the Posts and Images APIs."""

from __future__ import annotations

import re
import secrets

from werkzeug.wrappers import Request, Response

from syndication.social.fakes.base import (
    _URL,
    FakeNetwork,
    Token,
    _image_size,
    _json,
    _snowflake,
)


class FakeLinkedIn(FakeNetwork):
    """LinkedIn: /oauth/v2 (authorization, accessToken with 60-day tokens and 1-year refresh
    tokens, revoke), /v2/userinfo and the versioned /rest organizationAcls and
    organizations. Posting: /rest/posts (create, find by author, delete; the commentary read
    as "little" text, cut at the first unescaped reserved character as LinkedIn does) and
    /rest/images initializeUpload with the upload URL it hands out. /rest calls need the
    ``LinkedIn-Version`` header, posts and images also Rest.li protocol 2.0.0."""

    label = "LinkedIn"
    access_seconds = 60 * 24 * 3600
    refresh_seconds = 365 * 24 * 3600
    declined_error = "user_cancelled_authorize"
    max_image_bytes = 8 * 1024 * 1024

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.member = {"sub": "782bbtaQ", "name": "Lina Member", "given_name": "Lina",
                       "family_name": "Member", "email": "lina@example.com",
                       "picture": "https://media.licdn.example/lina.jpg"}
        #: Organizations the member administers: id -> (localizedName, vanityName).
        self.organizations: dict[str, tuple[str, str]] = {"2414183": ("Northwind IT",
                                                                      "northwind-it")}

    def routes(self):
        """The endpoints this network has, by (method, path)."""
        return {("GET", "/oauth/v2/authorization"): self._authorize,
                ("POST", "/oauth/v2/authorization"): self._authorize,
                ("POST", "/oauth/v2/accessToken"): self.token,
                ("POST", "/oauth/v2/revoke"): self.revoke,
                ("GET", "/v2/userinfo"): self.userinfo,
                ("GET", "/rest/organizationAcls"): self.acls,
                ("POST", "/rest/posts"): self.create_post,
                ("GET", "/rest/posts"): self.find_posts,
                ("POST", "/rest/images"): self.initialize_upload}

    def fallback(self, request: Request):
        """Organisations and posts are addressed by id in the path; uploads by a key."""
        if request.method == "GET" and request.path.startswith("/rest/organizations/"):
            return self.organization
        if request.method == "DELETE" and request.path.startswith("/rest/posts/"):
            return self.delete_post
        if request.method == "PUT" and request.path.startswith("/dms-uploads/"):
            return self.upload
        return None

    def _oauth_error(self, description: str) -> Response:
        return _json({"error": "invalid_request", "error_description": description}, 400)

    def token(self, request: Request) -> Response:
        """The token endpoint: exchange a code, or refresh."""
        if not self._client_ok(request, basic=False):
            return _json({"error": "invalid_client",
                          "error_description": "Client authentication failed"}, 401)
        grant_type = request.form.get("grant_type")
        if grant_type == "authorization_code":
            code = self._take_code(request.form.get("code"), request.form.get("redirect_uri"))
            if code is None:
                return self._oauth_error(
                    "Unable to retrieve access token: appid/redirect uri/code verifier does "
                    "not match authorization code. Or authorization code expired.")
            issued = self._issue(secrets.token_hex(8), refresh=True)
            return _json({**issued, "refresh_token_expires_in": self.refresh_seconds,
                          "scope": code.scope.replace(" ", ",")})
        if grant_type == "refresh_token":
            token = self.tokens.get(request.form.get("refresh_token", ""))
            if token is None or token.kind != "refresh" or self._state(token) != "ok":
                return self._oauth_error("The provided authorization grant or refresh token "
                                         "is invalid, expired or revoked.")
            access = Token(secrets.token_urlsafe(24), token.grant,
                           self.now() + self.access_seconds)
            self.tokens[access.value] = access
            # LinkedIn keeps the refresh token: its lifetime counts down from the consent.
            return _json({"access_token": access.value, "expires_in": self.access_seconds,
                          "refresh_token": token.value,
                          "refresh_token_expires_in": int(token.expires - self.now())})
        return _json({"error": "unsupported_grant_type",
                      "error_description": "Grant type is not supported"}, 400)

    def revoke(self, request: Request) -> Response:
        """Revoke a token and every token of the same grant."""
        if not self._client_ok(request, basic=False):
            return _json({"error": "invalid_client",
                          "error_description": "Client authentication failed"}, 401)
        self._revoke(request.form.get("token", ""))
        return Response(status=200)

    def _unauthorized(self, state: str) -> Response:
        code, message = {
            "revoked": ("REVOKED_ACCESS_TOKEN",
                        "The token used in the request has been revoked by the user"),
            "expired": ("EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"),
        }.get(state, ("INVALID_ACCESS_TOKEN", "Invalid access token"))
        return _json({"status": 401, "serviceErrorCode": 65600, "code": code,
                      "message": message}, 401)

    def userinfo(self, request: Request) -> Response:
        """Who the token acts for (OpenID Connect userinfo)."""
        _, state = self._bearer(request)
        if state != "ok":
            return self._unauthorized(state)
        return _json({**self.member, "email_verified": True,
                      "locale": {"country": "US", "language": "en"}})

    def _versioned(self, request: Request) -> Response | None:
        _, state = self._bearer(request)
        if state != "ok":
            return self._unauthorized(state)
        version = request.headers.get("LinkedIn-Version", "")
        if not version:
            return _json({"status": 400, "code": "VERSION_MISSING", "message": "A version must "
                          "be present. Please specify a version by adding the LinkedIn-Version "
                          "header."}, 400)
        if not re.fullmatch(r"20\d{4}(\.\d\d)?", version):
            return _json({"status": 426, "code": "NONEXISTENT_VERSION",
                          "message": f"Requested version {version} is not active"}, 426)
        return None

    def acls(self, request: Request) -> Response:
        """The organisations the member administers."""
        refused = self._versioned(request)
        if refused is not None:
            return refused
        if request.args.get("q") != "roleAssignee":
            return _json({"status": 400, "message": "Unsupported finder"}, 400)
        elements = [{"roleAssignee": f"urn:li:person:{self.member['sub']}", "state": "APPROVED",
                     "role": "ADMINISTRATOR", "organization": f"urn:li:organization:{org}"}
                    for org in self.organizations]
        return _json({"paging": {"start": 0, "count": 10, "links": []}, "elements": elements})

    def organization(self, request: Request) -> Response:
        """One organisation's name and vanity name."""
        refused = self._versioned(request)
        if refused is not None:
            return refused
        org_id = request.path.rsplit("/", 1)[-1]
        if org_id not in self.organizations:
            return _json({"status": 404, "message": "Not found"}, 404)
        name, vanity = self.organizations[org_id]
        return _json({"id": int(org_id), "localizedName": name, "vanityName": vanity})

    # --- Posts and Images APIs -----------------------------------------------------------

    #: Fields a post may have (Posts API schema); others are refused as unrecognized.
    POST_FIELDS = {"author", "commentary", "visibility", "distribution", "lifecycleState",
                   "isReshareDisabledByAuthor", "content", "contentLandingPage",
                   "contentCallToActionLabel", "adContext", "container", "reshareContext"}
    REQUIRED_POST_FIELDS = ("author", "commentary", "visibility", "distribution",
                            "lifecycleState")
    #: Unescaped, these end the commentary: LinkedIn keeps the text before the first one.
    LITTLE_RESERVED = set("\\|{}@[]()<>*_~#")
    #: LinkedIn's pixel limit for images.
    max_image_pixels = 36_152_320
    #: Whether the app may list a member's own posts (LinkedIn's restricted
    #: ``r_member_social``); organizations' posts are always listed.
    lists_member_posts = True

    def _restli(self, request: Request) -> Response | None:
        refused = self._versioned(request)
        if refused is not None:
            return refused
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return _json({"status": 400, "message": "This endpoint takes Rest.li protocol "
                          "2.0.0 (X-Restli-Protocol-Version)"}, 400)
        return None

    def _authors(self) -> set[str]:
        """Who the member may post as: themself and the organizations they administer."""
        return {f"urn:li:person:{self.member['sub']}",
                *(f"urn:li:organization:{org}" for org in self.organizations)}

    def _denied(self, action: str) -> Response:
        return _json({"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
                      "message": f"Not enough permissions to access: {action}"}, 403)

    @staticmethod
    def _unprocessable(errors: list[str]) -> Response:
        return _json({"status": 422, "message": "".join(f"ERROR :: {e}\n" for e in errors)},
                     422)

    def _server_error(self, status: int) -> Response:
        return _json({"status": status, "message": "Internal Server Error"}, status)

    def _too_many(self, reset_in: float) -> Response:
        # LinkedIn's limits are per day and it does not say when they reset.
        return _json({"status": 429, "serviceErrorCode": 101, "code": "TOO_MANY_REQUESTS",
                      "message": "Resource level throttle APPLICATION DAY limit for calls to "
                                 "this resource is reached."}, 429)

    def read_little(self, commentary: str) -> str:
        """What LinkedIn shows for ``commentary``: escapes resolved, and cut at the first
        unescaped reserved character (links and ``#hashtags`` are fine)."""
        out, i = [], 0
        while i < len(commentary):
            url = _URL.match(commentary, i)
            char = commentary[i]
            if url:
                out.append(url.group())
                i = url.end()
            elif char == "\\" and i + 1 < len(commentary):
                out.append(commentary[i + 1])
                i += 2
            elif char == "#" and i + 1 < len(commentary) and commentary[i + 1].isalnum():
                out.append(char)
                i += 1
            elif char in self.LITTLE_RESERVED:
                break
            else:
                out.append(char)
                i += 1
        return "".join(out)

    def _check_post(self, body: dict) -> list[str]:
        errors = [f"/{name} :: field is required but not found and has no default value"
                  for name in self.REQUIRED_POST_FIELDS if name not in body]
        errors += [f"/{name} :: unrecognized field found but not allowed"
                   for name in body if name not in self.POST_FIELDS]
        if "commentary" in body and not isinstance(body["commentary"], str):
            errors.append("/commentary :: not a string")
        if body.get("visibility", "PUBLIC") not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN",
                                                    "CONTAINER"):
            errors.append("/visibility :: not a valid enum value")
        if body.get("lifecycleState", "PUBLISHED") not in ("PUBLISHED", "DRAFT"):
            errors.append("/lifecycleState :: not a valid enum value")
        distribution = body.get("distribution", {})
        if not isinstance(distribution, dict) or distribution.get("feedDistribution") not in (
                "MAIN_FEED", "NONE"):
            errors.append("/distribution/feedDistribution :: field is required but not found "
                          "and has no default value")
        content = body.get("content")
        if content is None:
            return errors
        if not isinstance(content, dict) or len(content) != 1:
            return [*errors, "/content :: exactly one kind of content is allowed"]
        if "media" in content:
            image = self.media.get((content["media"] or {}).get("id", ""))
            if image is None or image["data"] is None or image["owner"] != body.get("author"):
                errors.append("/content/media/id :: the image is not AVAILABLE to the author")
        elif "article" in content:
            article = content["article"] or {}
            if not str(article.get("source", "")).startswith(("http://", "https://")):
                errors.append("/content/article/source :: field is required but not found and "
                              "has no default value")
            if not article.get("title"):
                errors.append("/content/article/title :: field is required but not found and "
                              "has no default value")
        else:
            errors.append(f"/content/{next(iter(content))} :: not supported here")
        return errors

    def create_post(self, request: Request) -> Response:
        """``POST /rest/posts``: 201 with the new post's URN in ``x-restli-id``."""
        refused = self._restli(request)
        if refused is not None:
            return refused
        body = self._receive(request).json
        if not isinstance(body, dict):
            return _json({"status": 400, "code": "ILLEGAL_ARGUMENT",
                          "message": "Request body could not be converted to data map"}, 400)
        errors = self._check_post(body)
        if errors:
            return self._unprocessable(errors)
        if body["author"] not in self._authors():
            return self._denied("partnerApiPostsExternal.CREATE.20241101")
        held = self._before_post()
        if held is not None:
            return held
        text = self.read_little(body["commentary"])
        earlier = self._duplicate_of(body["author"], text)
        if earlier is not None:
            return self._unprocessable([f"Content is a duplicate of {earlier['id']}"])
        content = body.get("content") or {}
        media = [content["media"]["id"]] if "media" in content else []
        link = (content.get("article") or {}).get("source")
        post = self._store_post(f"urn:li:share:{_snowflake()}", body["author"], text, media,
                                link, commentary=body["commentary"],
                                alt=(content.get("media") or {}).get("altText", ""))
        return self._answer_post(Response(status=201, headers={"x-restli-id": post["id"]}))

    def find_posts(self, request: Request) -> Response:
        """``GET /rest/posts?q=author&author=<urn>``: the author's posts, newest first."""
        refused = self._restli(request)
        if refused is not None:
            return refused
        self._receive(request)
        if request.args.get("q") != "author" or not request.args.get("author"):
            return _json({"status": 400, "message": "Unsupported finder"}, 400)
        author = request.args["author"]
        if author not in self._authors() or (
                author.startswith("urn:li:person:") and not self.lists_member_posts):
            return self._denied("partnerApiPostsExternal.FINDER-author.20241101")
        count = min(int(request.args.get("count", 10)), 100)
        found = list(reversed(self.posts_by(author)))[:count]
        return _json({"paging": {"start": 0, "count": count, "links": []}, "elements": [
            {"id": post["id"], "author": post["author"], "commentary": post["commentary"],
             "visibility": "PUBLIC", "lifecycleState": "PUBLISHED",
             "createdAt": int(post["created"] * 1000),
             "publishedAt": int(post["created"] * 1000),
             "lastModifiedAt": int(post["created"] * 1000)} for post in found]})

    def delete_post(self, request: Request) -> Response:
        """``DELETE /rest/posts/{urn}``: 204."""
        refused = self._restli(request)
        if refused is not None:
            return refused
        self._receive(request)
        urn = request.path.removeprefix("/rest/posts/")
        with self._lock:
            post = next((p for p in self.posts if p["id"] == urn), None)
            if post is None:
                return _json({"status": 404, "message": f"Post {urn} not found"}, 404)
            if post["author"] not in self._authors():
                return self._denied("partnerApiPostsExternal.DELETE.20241101")
            self._forget(post)
        return Response(status=204)

    def initialize_upload(self, request: Request) -> Response:
        """``POST /rest/images?action=initializeUpload``: where to PUT the image."""
        refused = self._restli(request)
        if refused is not None:
            return refused
        body = self._receive(request).json
        if request.args.get("action") != "initializeUpload":
            return _json({"status": 400, "message": "Unsupported action"}, 400)
        owner = ((body or {}).get("initializeUploadRequest") or {}).get("owner") \
            if isinstance(body, dict) else None
        if not owner:
            return self._unprocessable(["/initializeUploadRequest/owner :: field is required "
                                        "but not found and has no default value"])
        if owner not in self._authors():
            return self._denied("partnerApiImages.ACTION-initializeUpload.20241101")
        urn = f"urn:li:image:C4E10AQ{secrets.token_urlsafe(9)}"
        key = secrets.token_urlsafe(12)
        self._store_media(urn, owner, None, "")["key"] = key
        return _json({"value": {"uploadUrlExpiresAt": int((self.now() + 86400) * 1000),
                                "uploadUrl": f"{self.url}/dms-uploads/{key}", "image": urn}})

    def upload(self, request: Request) -> Response:
        """``PUT`` the image bytes to the upload URL."""
        _, state = self._bearer(request)
        if state != "ok":
            return self._unauthorized(state)
        data = self._receive(request).data
        image = next((m for m in self.media.values()
                      if m.get("key") == request.path.removeprefix("/dms-uploads/")), None)
        if image is None:
            return _json({"status": 404, "message": "Upload not found"}, 404)
        problem = self._image_problem(data)
        size = _image_size(data)
        if problem is None and size and size[0] * size[1] > self.max_image_pixels:
            problem = f"The image has more than {self.max_image_pixels} pixels"
        if problem:
            return _json({"status": 400, "message": f"Invalid image: {problem}"}, 400)
        image["data"], image["type"] = data, request.content_type or ""
        return Response(status=201)
