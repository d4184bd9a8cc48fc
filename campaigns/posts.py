"""A kit's social posts: their shape, how each network counts them, problems and rendering.

A post is an item of the kit version (``{"kind": "post", ...}``) beside the emails, sharing
their key space so a schedule step names either by its key. Texts use the same
``{{ partner.* }}`` tokens as emails and are filled by the same sandbox (``campaigns.mjml``);
posts go to the partner's accounts, not to contacts, so ``{{ contact.* }}`` is refused.

What goes out on a network (``full_text`` before tokens, ``render`` after):

- the network's text (or the partner's edited text), tokens filled;
- the link: on X always in the text (X has no link card field); on LinkedIn and Facebook as
  the link card when the post has no image, else in the text (a post carries either an image
  or a link card, and the link must stay reachable);
- the hashtags, as ``#tag`` words on a last line.

Parts are separated by a blank line. After filling, spaces and blank lines are tidied the same
way everywhere (``_tidy``): runs of spaces become one, lines are trimmed, at most one blank line
in a row, so a token that renders empty leaves no hole. Lengths are counted on that final text:
X the way twitter-text v3 does (``weighted_length``), LinkedIn and Facebook in code points.

Publishing a kit is blocked when any text, filled with the longest real partner values
(``longest_values``), is over its network's limit; the partner's own edits are checked against
their own values when they launch.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from campaigns import kits, references
from campaigns.mjml import Problem, fill, template_problems, text_segments
from campaigns.models import Kit, KitVersion
from campaigns.post_length import weighted_length
from tcma.auth.models import User
from tcma.errors import FieldError, NotFound, ValidationFailed

NETWORKS = ("linkedin", "x", "facebook")
NETWORK_LABELS = {"linkedin": "LinkedIn", "x": "X", "facebook": "Facebook"}
#: Characters a post may have, counted the network's way (``weighted_length``).
LIMITS = {"linkedin": 3000, "x": 280, "facebook": 63206}
MAX_POSTS = 20
MAX_HASHTAGS = 30
#: Longest template a text may be before filling (tokens are longer than what they stand for
#: only by a little; Facebook's limit is the largest).
MAX_TEMPLATE = 63206
KEY = r"^[a-z0-9][a-z0-9_-]{0,39}$"

# --- shape -------------------------------------------------------------------------------------


def _is_web_address(value: str) -> bool:
    parts = urlsplit(value)
    return (parts.scheme in ("http", "https") and bool(parts.hostname)
            and not re.search(r"[\s{}<>\"]", value))


class PostIn(BaseModel):
    """One social post of a kit: a text per network it goes to, with ``{{ partner.* }}``
    tokens; a link and/or a co-brandable image; hashtags."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    key: str = Field(pattern=KEY, description="Lower-case name steps refer to")
    name: str = Field(min_length=1, max_length=200)
    texts: dict[str, str] = Field(
        description="Text per network (linkedin, x, facebook); a network left out does not "
                    "get this post")
    link: str = Field(default="", max_length=2000,
                      description="An https:// address: the link card, or appended to the "
                                  "text (always on X); each partner's copy is their tracking "
                                  "link")
    image_asset_id: str | None = Field(default=None, description="A co-brandable image asset; "
                                                                 "each partner's copy carries "
                                                                 "their brand")
    hashtags: list[str] = Field(default_factory=list, max_length=MAX_HASHTAGS,
                                description="Words without '#', appended on a last line")
    editable: bool = Field(default=True, description="Partners may rewrite the text")

    @field_validator("key")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v == "new":  # the editor's address for adding a post
            raise ValueError("Choose another key; 'new' is reserved")
        return v

    @field_validator("texts")
    @classmethod
    def _texts(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = [n for n in v if n not in NETWORKS]
        if unknown:
            raise ValueError(f"Unknown network(s) {', '.join(unknown)}; use "
                             f"{', '.join(NETWORKS)}")
        if not v:
            raise ValueError(f"Write the text for at least one network ({', '.join(NETWORKS)})")
        for network, text in v.items():
            if not text.strip():
                raise ValueError(f"Write the {NETWORK_LABELS[network]} text, or leave "
                                 f"{network} out")
            if len(text) > MAX_TEMPLATE:
                raise ValueError(f"Keep the {NETWORK_LABELS[network]} text under "
                                 f"{MAX_TEMPLATE:,} characters")
        return {n: v[n].strip() for n in NETWORKS if n in v}  # one order everywhere

    @field_validator("link")
    @classmethod
    def _link(cls, v: str) -> str:
        if v and not _is_web_address(v):
            raise ValueError("Use a full web address starting with https:// (or http://)")
        return v

    @field_validator("image_asset_id", mode="before")
    @classmethod
    def _blank_image(cls, v: Any) -> Any:
        return v or None

    @field_validator("hashtags", mode="before")
    @classmethod
    def _split_hashtags(cls, v: Any) -> Any:
        if isinstance(v, str):  # "cloud, #security" from a form field
            v = [part for part in re.split(r"[\s,]+", v) if part]
        if isinstance(v, list):
            return [t.strip().lstrip("#") if isinstance(t, str) else t for t in v]
        return v

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, v: list[str]) -> list[str]:
        for tag in v:
            if not re.fullmatch(r"\w{1,100}", tag):
                raise ValueError(f"#{tag}: a hashtag is one word of letters, digits and _ "
                                 "(at most 100)")
        return list(dict.fromkeys(v))


_POSTS = TypeAdapter(list[PostIn])


def posts_of(version: KitVersion) -> list[dict[str, Any]]:
    """The version's posts, in order."""
    return [i for i in version.content.get("items", []) if i.get("kind") == "post"]


def post_of(version: KitVersion, key: str) -> dict[str, Any]:
    for post in posts_of(version):
        if post["key"] == key:
            return post
    raise NotFound("No such post in this kit.")


def put_posts(kit: Kit, posts: list[dict[str, Any]], *, by: User | None) -> KitVersion:
    """Replace the draft's posts. Shape errors (and keys an email already uses, images that
    do not exist) are refused; token and length problems are kept and shown
    (``post_problems``) until fixed."""
    from campaigns.content import validated_items, write_draft

    if not isinstance(posts, list) or len(posts) > MAX_POSTS:
        raise ValidationFailed([FieldError("posts", f"Send a list of at most {MAX_POSTS}.")])
    parsed = validated_items(_POSTS, posts, "posts")
    keys = [p["key"] for p in parsed]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValidationFailed([FieldError("posts", f"Two posts use the key {dupes[0]!r}.")])
    version = kits.draft(kit)
    others = [i for i in version.content.get("items", []) if i.get("kind") != "post"]
    errors = []
    taken = {i["key"] for i in others}
    for n, post in enumerate(parsed):
        if post["key"] in taken:
            errors.append(FieldError(f"posts[{n}].key", f"An email already uses the key "
                                                         f"{post['key']!r}."))
        image = post["image_asset_id"]
        if image and references.image_asset_title(image) is None:
            errors.append(FieldError(f"posts[{n}].image_asset_id",
                                     "No such image in the asset library."))
    if errors:
        raise ValidationFailed(errors)
    return write_draft(kit, {"items": others + [{"kind": "post", **p} for p in parsed]},
                  "kit.posts", by)


def _current(kit: Kit) -> list[dict[str, Any]]:
    return [{k: v for k, v in copy.deepcopy(p).items() if k != "kind"}
            for p in posts_of(kits.draft(kit))]


def put_post(kit: Kit, post: dict[str, Any], *, by: User | None,
             replace: str | None = None) -> KitVersion:
    """Add a post, or replace the one keyed ``replace`` (the editor's save)."""
    current = _current(kit)
    if replace is None:
        current.append(post)
    else:
        current = [post if p["key"] == replace else p for p in current]
    return put_posts(kit, current, by=by)


def remove_post(kit: Kit, key: str, *, by: User | None) -> KitVersion:
    """Take a post out of the draft; steps sending it are listed as problems until changed."""
    current = _current(kit)
    if not any(p["key"] == key for p in current):
        raise NotFound("No such post in this kit.")
    return put_posts(kit, [p for p in current if p["key"] != key], by=by)


# --- what goes out -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedPost:
    """A post as it goes out on one network: the final text, the link card (None when the
    link is in the text or there is none) and the image asset."""

    text: str
    link: str | None
    image_asset_id: str | None


def link_in_text(post: dict[str, Any], network: str) -> bool:
    """Does the post's link go in the text (X always; elsewhere beside an image)?"""
    return bool(post.get("link")) and (network == "x" or bool(post.get("image_asset_id")))


def _compose(body: str, post: dict[str, Any], network: str, link: str | None) -> str:
    parts = [body.strip()]
    if link and link_in_text(post, network):
        parts.append(link)
    if post.get("hashtags"):
        parts.append(" ".join(f"#{tag}" for tag in post["hashtags"]))
    return "\n\n".join(p for p in parts if p)


def full_text(post: dict[str, Any], network: str, text: str | None = None) -> str:
    """The text that will go out before tokens are filled: the network's text (or the
    partner's ``text``), the link where it goes in the text, the hashtags."""
    return _compose(post["texts"][network] if text is None else text, post, network,
                    post.get("link") or None)


def _tidy(text: str) -> str:
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def fill_tokens(template: str, values: dict[str, Any]) -> str:
    """A post text with the partner's values in its tokens, tidied (``_tidy``). Values are
    data: they are never read as template source."""
    return _tidy(fill(text_segments(template, values), {}, as_html=False))


def render(post: dict[str, Any], network: str, values: dict[str, Any], *,
           text: str | None = None, link_url: str | None = None) -> RenderedPost:
    """One post as a partner (``values``: their brand values) publishes it on ``network``:
    tokens filled in the network's text (or the partner's edited ``text``), the link replaced
    by ``link_url`` (their tracking link) when given, hashtags appended."""
    body = fill_tokens(post["texts"][network] if text is None else text, values)
    link = link_url or post.get("link") or None
    return RenderedPost(text=_compose(body, post, network, link),
                        link=None if link is None or link_in_text(post, network) else link,
                        image_asset_id=post.get("image_asset_id"))


# --- problems ----------------------------------------------------------------------------------

_TAG = re.compile(r"\{[{%].*?[}%]\}", re.S)


def _contact_problems(field: str, text: str) -> list[Problem]:
    return [Problem(field, text.count("\n", 0, m.start()) + 1,
                    "posts go to the partner's accounts, not to contacts: use "
                    "{{ partner.<field> }} tokens only.")
            for m in _TAG.finditer(text) if re.search(r"\bcontact\b", m.group(0))]


def text_problems(field: str, text: str) -> list[Problem]:
    """Token problems of one post text: syntax, unknown tokens, contact tokens."""
    return template_problems(field, text) + _contact_problems(field, text)


def longest_sources() -> dict[str, tuple[str, str]]:
    """Per partner token, the longest current value among partners (by what X counts, then
    code points) and whose it is: ``{"display_name": ("...", "Partner name")}``. A token no
    partner has filled yet gets the sample partner's value, as someone will fill it."""
    from sqlalchemy import func, select

    from assets.cobrand.text import PARTNER_TOKENS, SAMPLE_PARTNER
    from tcma.extensions import db
    from tcma.partners.models import BrandProfile, Partner, PartnerStatus

    newest = (select(BrandProfile.partner_id, func.max(BrandProfile.version).label("version"))
              .group_by(BrandProfile.partner_id).subquery())
    rows = db.session.execute(
        select(BrandProfile, Partner.name)
        .join(newest, (newest.c.partner_id == BrandProfile.partner_id)
              & (newest.c.version == BrandProfile.version))
        .join(Partner, Partner.id == BrandProfile.partner_id)
        .where(Partner.status != PartnerStatus.OFFBOARDED)).all()
    found: dict[str, tuple[tuple[int, int], str, str]] = {}
    for profile, name in rows:
        for token in PARTNER_TOKENS:
            value = getattr(profile, token, None) or ""
            if not value:
                continue
            # Plain ASCII weighs its length on X (bar links, which X counts as 23 whatever
            # their length), so only other values pay for the full count.
            size = (len(value) if value.isascii() else weighted_length("x", value), len(value))
            held = found.get(token)
            if held is None or size > held[0]:
                found[token] = (size, value, name)
    return {token: found[token][1:] if token in found
            else (SAMPLE_PARTNER.get(token, ""), "sample partner") for token in PARTNER_TOKENS}


def longest_values() -> dict[str, str]:
    """The longest real value of each partner token across partners' current brand
    profiles (the sample partner's where nobody has one)."""
    return {token: value for token, (value, _) in longest_sources().items()}


_USED = re.compile(r"\bpartner\.([a-z_]+)")


def post_problems(n: int, post: dict[str, Any],
                  longest: dict[str, tuple[str, str]] | None = None) -> list[Problem]:
    """Everything blocking publication of post ``n``: token problems, texts that fill to
    nothing, texts over a network's limit when filled with the longest partner values
    (``longest``: ``longest_sources()``, passed in to query once per kit)."""
    from assets.cobrand.text import PARTNER_TOKENS

    problems: list[Problem] = []
    for network, text in post.get("texts", {}).items():
        field = f"posts[{n}].texts.{network}"
        found = text_problems(field, text)
        problems += found
        if found:
            continue
        if not fill_tokens(text, {}):
            problems.append(Problem(field, None, "the text is empty for a partner who has not "
                                                 "filled its tokens; add words around them."))
        if longest is None:
            longest = longest_sources()
        values = {token: value for token, (value, _) in longest.items()}
        rendered = render(post, network, values)
        length, limit = weighted_length(network, rendered.text), LIMITS[network]
        if length > limit:
            used = [t for t in dict.fromkeys(_USED.findall(text)) if t in PARTNER_TOKENS]
            whose = "; ".join(f"{t}: {longest[t][1]}" for t in used) or "no tokens used"
            problems.append(Problem(field, None, (
                f"{NETWORK_LABELS[network]} counts {length:,} of {limit:,} characters when "
                f"filled with the longest partner values ({whose}); shorten it by "
                f"{length - limit:,}.")))
    image = post.get("image_asset_id")
    if image and references.image_asset_title(image) is None:
        problems.append(Problem(f"posts[{n}].image_asset_id", None,
                                f"image {image} no longer exists."))
    return problems


def lengths(post: dict[str, Any], values: dict[str, Any]) -> dict[str, int]:
    """Per network, the length the network counts for the post filled with ``values`` (None
    where a text has token problems and cannot be filled)."""
    out: dict[str, int] = {}
    for network, text in post.get("texts", {}).items():
        if not text_problems("text", text):
            out[network] = weighted_length(network, render(post, network, values).text)
    return out


def check_edits(version: KitVersion, edits: Any) -> dict[str, dict[str, str]]:
    """A partner's rewritten texts ``{post key: {network: text}}``, checked: the post exists
    and is editable, the network is one it goes to, the text is a text of a sane size with
    known tokens. Empty texts keep the kit's and are left out. Whether the filled text fits
    the network is for the caller, with this partner's values."""
    if edits in (None, {}):
        return {}
    if not isinstance(edits, dict):
        raise ValidationFailed([FieldError("posts", "Send {post key: {network: text}}.")])
    posts = {p["key"]: p for p in posts_of(version)}
    errors: list[FieldError] = []
    kept: dict[str, dict[str, str]] = {}
    for key, texts in edits.items():
        post = posts.get(key)
        if post is None:
            errors.append(FieldError(f"posts.{key}", "No such post in this kit."))
            continue
        if not isinstance(texts, dict):
            errors.append(FieldError(f"posts.{key}", "Send {network: text}."))
            continue
        for network, text in texts.items():
            field = f"posts.{key}.{network}"
            if network not in post.get("texts", {}):
                errors.append(FieldError(field, "This post does not go to that network."))
            elif not isinstance(text, str):
                errors.append(FieldError(field, "Send the text as a string."))
            elif not text.strip():
                continue
            elif not post.get("editable", True):
                errors.append(FieldError(field, "The vendor does not allow this post's text "
                                                "to be changed."))
            elif len(text) > MAX_TEMPLATE:
                errors.append(FieldError(field, f"Keep the text under {MAX_TEMPLATE:,} "
                                                "characters."))
            else:
                found = text_problems(field, text)
                if found:
                    errors.append(FieldError(field, found[0].message))
                else:
                    kept.setdefault(key, {})[network] = text.strip()
    if errors:
        raise ValidationFailed(errors)
    return kept
