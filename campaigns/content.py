"""A kit's content: emails and social posts, the schedule of steps, references; problems;
previews. Posts have their own module (``campaigns.posts``); this one gathers everything.

Every edit writes the draft (``kits.draft``), so published versions never change. A draft may
hold problems (an unknown token, invalid MJML) while the marketer works; ``content_problems``
lists them with field and line, and publishing refuses while any remain.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from campaigns import kits, posts, references
from campaigns.mjml import (
    SAMPLE_CONTACT,
    Problem,
    apply_blocks,
    editable_blocks,
    fill_contact,
    html_to_text,
    mjml_problems,
    partner_html,
    render_text,
    template_problems,
    with_extras,
)
from campaigns.models import Kit, KitVersion
from tcma import audit
from tcma.auth.models import User
from tcma.errors import FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

MAX_EMAILS = 20
MAX_STEPS = 30
AUDIENCES = ("all", "non_clickers", "non_openers")
KEY = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class EmailIn(BaseModel):
    """One email of a kit; ``key`` names it in steps (``welcome``, ``reminder``)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    key: str = Field(pattern=KEY, description="Lower-case name steps refer to")
    name: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=500)
    preheader: str = Field(default="", max_length=500)
    from_name: str = Field(default="{{ partner.display_name }}", min_length=1, max_length=200)
    mjml: str = Field(min_length=1, max_length=200_000)

    @field_validator("key")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v == "new":  # the editor's address for adding an email
            raise ValueError("Choose another key; 'new' is reserved")
        return v


class StepIn(BaseModel):
    """One step of the schedule: an email on a day, at a local time in the partner's zone."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    day: int = Field(ge=0, le=365, description="Days after the launch starts")
    time: str = Field(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$",
                      description="HH:MM in the partner's time zone")
    item: str = Field(pattern=KEY, description="The key of the email or post to send")
    audience: Literal["all", "non_clickers", "non_openers"] = "all"
    audience_step: int | None = Field(
        default=None, ge=1, description="For non_clickers / non_openers: of which step (1-based)")


def validated_items(adapter: TypeAdapter, data: Any, root: str) -> list[dict[str, Any]]:
    """A list of items (emails, posts, steps) checked by ``adapter``; each error names its
    item by ``root`` and position (``posts[1].link``)."""
    try:
        items = adapter.validate_python(data)
    except ValidationError as exc:
        raise ValidationFailed([
            FieldError(root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                      for p in err["loc"]), err["msg"])
            for err in exc.errors()]) from exc
    return [item.model_dump() for item in items]


_EMAILS = TypeAdapter(list[EmailIn])
_STEPS = TypeAdapter(list[StepIn])


def write_draft(kit: Kit, changes: dict[str, Any], action: str, by: User | None) -> KitVersion:
    """Apply ``changes`` to the draft's content (opening a draft if needed), audited."""
    version = kits.draft(kit)
    content = copy.deepcopy(version.content)
    content.update(changes)
    version.content = content  # a new object: JSON columns do not see in-place changes
    kit.updated_at = utcnow()
    db.session.flush()
    audit.record(action, target=kit, actor=by, after={k: len(v) if isinstance(v, list) else v
                                                      for k, v in changes.items()})
    return version


def put_emails(kit: Kit, emails: list[dict[str, Any]], *, by: User | None) -> KitVersion:
    """Replace the draft's emails. Shape errors are refused; token and MJML problems are kept
    and shown (``content_problems``) until fixed."""
    if not isinstance(emails, list) or len(emails) > MAX_EMAILS:
        raise ValidationFailed([FieldError("emails", f"Send a list of at most {MAX_EMAILS}.")])
    parsed = validated_items(_EMAILS, emails, "emails")
    keys = [e["key"] for e in parsed]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValidationFailed([FieldError("emails", f"Two emails use the key {dupes[0]!r}.")])
    version = kits.draft(kit)
    others = [i for i in version.content.get("items", []) if i.get("kind") != "email"]
    taken = {i["key"] for i in others}
    clashes = [FieldError(f"emails[{n}].key", f"A post already uses the key {e['key']!r}.")
               for n, e in enumerate(parsed) if e["key"] in taken]
    if clashes:
        raise ValidationFailed(clashes)
    return write_draft(kit, {"items": [{"kind": "email", **e} for e in parsed] + others},
                  "kit.emails", by)


def put_email(kit: Kit, email: dict[str, Any], *, by: User | None,
              replace: str | None = None) -> KitVersion:
    """Add an email, or replace the one keyed ``replace`` (the editor's save)."""
    current = [{k: v for k, v in i.items() if k != "kind"} for i in emails_of(kits.draft(kit))]
    if replace is None:
        current.append(email)
    else:
        current = [email if e["key"] == replace else e for e in current]
    return put_emails(kit, current, by=by)


def remove_email(kit: Kit, key: str, *, by: User | None) -> KitVersion:
    """Take an email out of the draft; steps sending it are listed as problems until changed."""
    current = [{k: v for k, v in i.items() if k != "kind"} for i in emails_of(kits.draft(kit))]
    if not any(e["key"] == key for e in current):
        raise NotFound("No such email in this kit.")
    return put_emails(kit, [e for e in current if e["key"] != key], by=by)


def put_steps(kit: Kit, steps: list[dict[str, Any]], *, by: User | None) -> KitVersion:
    """Replace the schedule; steps are kept in (day, time) order."""
    if not isinstance(steps, list) or len(steps) > MAX_STEPS:
        raise ValidationFailed([FieldError("steps", f"Send a list of at most {MAX_STEPS}.")])
    parsed = validated_items(_STEPS, steps, "steps")
    return write_draft(kit, {"steps": parsed}, "kit.steps", by)


def set_references(kit: Kit, *, landing_page_id: str | None, asset_ids: list[str],
                   by: User | None) -> KitVersion:
    """Point the draft at a landing page and assets; unknown ones are refused."""
    errors = []
    if landing_page_id and references.landing_page_title(landing_page_id) is None:
        errors.append(FieldError("landing_page_id", "No such landing page."))
    missing = [a for a in asset_ids if references.asset_title(a) is None]
    if missing:
        errors.append(FieldError("asset_ids", f"No such asset(s): {', '.join(missing)}."))
    if errors:
        raise ValidationFailed(errors)
    return write_draft(kit, {"landing_page_id": landing_page_id or None,
                        "asset_ids": list(dict.fromkeys(asset_ids))}, "kit.references", by)


put_posts = posts.put_posts
put_post = posts.put_post
remove_post = posts.remove_post
posts_of = posts.posts_of
post_of = posts.post_of


def emails_of(version: KitVersion) -> list[dict[str, Any]]:
    return [i for i in version.content.get("items", []) if i.get("kind") == "email"]


def email_of(version: KitVersion, key: str) -> dict[str, Any]:
    for email in emails_of(version):
        if email["key"] == key:
            return email
    raise NotFound("No such email in this kit.")


def content_problems(content: dict[str, Any]) -> list[Problem]:
    """Everything that blocks publishing, each naming its field (and line)."""
    problems: list[Problem] = []
    items = content.get("items", [])
    emails = [(n, i) for n, i in enumerate(items) if i.get("kind") == "email"]
    social = [i for i in items if i.get("kind") == "post"]
    if not emails and not social:
        problems.append(Problem("items", None, "add at least one email or post."))
    for n, email in emails:
        for field in ("subject", "preheader", "from_name"):
            problems += template_problems(f"emails[{n}].{field}", email.get(field, ""))
        problems += mjml_problems(f"emails[{n}].mjml", email.get("mjml", ""))
    if social:
        longest = posts.longest_sources()
        for n, post in enumerate(social):
            problems += posts.post_problems(n, post, longest)
    kinds = {i["key"]: i.get("kind", "email") for i in items}
    steps = content.get("steps", [])
    if not steps:
        problems.append(Problem("steps", None, "add at least one step to the schedule."))
    for n, step in enumerate(steps):
        kind = kinds.get(step["item"])
        if kind is None:
            problems.append(Problem(f"steps[{n}].item", None,
                                    f"no email or post has the key {step['item']!r}."))
        ref = step.get("audience_step")
        if step["audience"] == "all":
            continue
        if kind == "post":
            problems.append(Problem(f"steps[{n}].audience", None,
                                    "a post goes to the partner's accounts: its audience is "
                                    "all."))
        elif not (ref and ref <= n):
            problems.append(Problem(f"steps[{n}].audience_step", None,
                                    "name an earlier step (1-based) whose non-clickers or "
                                    "non-openers get this one."))
        elif kinds.get(steps[ref - 1]["item"]) == "post":
            problems.append(Problem(f"steps[{n}].audience_step", None,
                                    "name an earlier email step: posts have no openers or "
                                    "clickers among contacts."))
    page = content.get("landing_page_id")
    if page and references.landing_page_title(page) is None:
        problems.append(Problem("landing_page_id", None, "the landing page no longer exists."))
    for asset_id in content.get("asset_ids", []):
        if references.asset_title(asset_id) is None:
            problems.append(Problem("asset_ids", None, f"asset {asset_id} no longer exists."))
    return problems


# --- previews ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    subject: str
    preheader: str
    from_name: str
    html: str
    text: str
    blocks: list[str]


def partner_values(partner: Partner | None) -> dict[str, Any]:
    """The brand values tokens read: the partner's current brand profile, or the sample."""
    from assets.cobrand.text import PARTNER_TOKENS, SAMPLE_PARTNER
    from tcma.partners.service import current_brand_profile

    if partner is None:
        return dict(SAMPLE_PARTNER)
    profile = current_brand_profile(partner)
    return {name: getattr(profile, name, None) for name in PARTNER_TOKENS}


def preview(version: KitVersion, key: str, partner: Partner | None,
            contact: dict[str, Any] | None = None,
            blocks: dict[str, str] | None = None) -> Preview:
    """One email as ``partner`` (None: the sample partner) would send it to a sample contact.
    A draft with problems raises ValidationFailed naming them."""
    email = email_of(version, key)
    n = emails_of(version).index(email)
    problems = [] if version.number is not None else content_problems(
        {"items": [email], "steps": [{"item": key, "audience": "all"}]})  # published: checked
    if problems:
        raise ValidationFailed([FieldError(p.field.replace("emails[0]", f"emails[{n}]"),
                                           f"line {p.line}: {p.message}" if p.line
                                           else p.message) for p in problems])
    values = partner_values(partner)
    person = contact or SAMPLE_CONTACT
    source = with_extras(apply_blocks(email["mjml"], blocks or {}),
                         preheader=email.get("preheader", ""))
    document = fill_contact(partner_html(source, values), person,
                            {"ref": "preview", "unsubscribe_url": "#unsubscribe"})
    return Preview(subject=render_text(email["subject"], values, person),
                   preheader=render_text(email.get("preheader", ""), values, person),
                   from_name=render_text(email["from_name"], values, person),
                   html=document, text=html_to_text(document),
                   blocks=editable_blocks(email["mjml"]))


def preview_post(version: KitVersion, key: str, partner: Partner | None,
                 texts: dict[str, str] | None = None) -> dict[str, posts.RenderedPost]:
    """One post as ``partner`` (None: the sample partner) would publish it, per network, with
    the kit's link (the partner's tracking link replaces it when it goes out). ``texts``: the
    partner's own rewrites, already checked (``posts.check_edits``). A text with token
    problems raises ValidationFailed naming them; a text over its limit is still shown."""
    post = posts.post_of(version, key)
    n = posts.posts_of(version).index(post)
    problems = [p for network, text in post["texts"].items()
                for p in posts.text_problems(f"posts[{n}].texts.{network}", text)]
    if problems:
        raise ValidationFailed([FieldError(p.field, f"line {p.line}: {p.message}"
                                           if p.line else p.message) for p in problems])
    values = partner_values(partner)
    return {network: posts.render(post, network, values, text=(texts or {}).get(network))
            for network in post["texts"]}


#: "Send me a test" emails one user may send per hour (a marketer iterating on a template).
TEST_EMAILS_PER_HOUR = 30


def send_test(version: KitVersion, key: str, partner: Partner | None, *, to: User,
              blocks: dict[str, str] | None = None) -> Preview:
    """Email ``to`` (the signed-in marketer or partner) one kit email as ``partner`` would
    send it, with the user's own name in the contact tokens; subject marked [Test]. Links are
    left untracked: a test click must not count for the partner."""
    from email.utils import formataddr, parseaddr

    from tcma import mail, queue, ratelimit
    from tcma.tasks import deliver_email

    ratelimit.hit("kit-test-email", str(to.id), limit=TEST_EMAILS_PER_HOUR, window=3600)
    first, _, last = (to.name or "").partition(" ")
    contact = {**SAMPLE_CONTACT, "email": to.email, "first_name": first or SAMPLE_CONTACT[
        "first_name"], "last_name": last}
    shown = preview(version, key, partner, contact=contact, blocks=blocks)
    address = parseaddr(mail.default_sender())[1]
    values = partner_values(partner)
    message = mail.build_message(
        to.email, f"[Test] {shown.subject}", shown.text, shown.html,
        sender=formataddr((shown.from_name, address)),
        reply_to=values.get("email") or None)
    queue.enqueue(deliver_email, bytes(message).decode("utf-8", "surrogateescape"))
    audit.record("kit.test_email", target=version.kit, actor=to,
                 after={"email": key, "partner": partner.public_id if partner else None})
    return shown
