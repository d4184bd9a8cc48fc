"""Campaign emails as recipients get them: built once per partner and step, filled per person.

``step_template`` does the expensive part once per (kit version, email, brand profile,
partner's blocks): MJML filled for the partner and compiled, every link turned into the
partner's tracking link (with a slot for the delivery's reference, ``?d=``), the plain-text
part derived, all split at the recipient slots. ``build`` then only joins strings and writes
headers, which is what lets one worker thread send hundreds of messages a second.
"""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from flask import current_app

from campaigns import mjml
from campaigns.content import email_of, partner_values
from campaigns.models import Launch, LaunchStep
from syndication.email import opens
from syndication.links.models import Channel
from syndication.links.service import LinkSource, kit_slug, link_for, short_url
from tcma.mail import SEVEN_BIT
from tcma.models import utcnow
from tcma.partners.models import Partner
from tcma.partners.service import current_brand_profile

#: The href of a link a reader can follow (``<a>``, ``<area>``); stylesheets' hrefs stay.
_HREF = re.compile(r'(<(?:a|area)\b[^>]*?\bhref\s*=\s*")([^"]*)(")', re.I)
_CACHE_LIMIT = 256


@dataclass(frozen=True)
class StepTemplate:
    """One step's email for one partner, compiled and split at the recipient slots."""

    html: mjml.Segments
    text: mjml.Segments
    subject: mjml.Segments
    from_name: mjml.Segments
    reply_to: str | None
    #: "<launch public id>:<partner slug>:tcma": the Feedback-ID mailbox providers report
    #: complaint rates by.
    feedback_id: str


_cache: dict[tuple, StepTemplate] = {}
_cache_lock = threading.Lock()


def _track_links(document: str, partner: Partner, source: LinkSource) -> str:
    """Every http(s) link of the compiled email becomes the partner's tracking link, carrying
    the delivery's reference; other links (mailto:, the unsubscribe slot) stay."""
    ref = mjml.slot("delivery", "ref")
    made: dict[str, str] = {}

    def rewrite(match: re.Match) -> str:
        address = html.unescape(match.group(2)).strip()
        if not address.lower().startswith(("http://", "https://")) or \
                mjml.slot("delivery", "unsubscribe_url") in address:
            return match.group(0)
        if address not in made:
            made[address] = short_url(link_for(partner, address, Channel.EMAIL, source))
        return f"{match.group(1)}{html.escape(made[address])}?d={ref}{match.group(3)}"

    return _HREF.sub(rewrite, document)


def step_template(launch: Launch, step: LaunchStep) -> StepTemplate:
    """The step's email as ``launch``'s partner sends it (built on first use per process;
    tracking links are created then, so call it inside a transaction that commits)."""
    profile = current_brand_profile(launch.partner)
    blocks = launch.blocks.get(step.item, {})
    key = (launch.public_id, step.item, profile.id)
    with _cache_lock:
        found = _cache.get(key)
    if found is not None:
        return found
    email = email_of(launch.version, step.item)
    values = partner_values(launch.partner)
    source = mjml.with_extras(mjml.apply_blocks(email["mjml"], blocks),
                              preheader=email.get("preheader", ""))
    compiled = mjml.partner_html(source, values)
    tracked = _track_links(compiled, launch.partner, LinkSource(
        campaign=kit_slug(launch.kit.name), content=step.item, type="launch",
        id=launch.public_id))
    text = mjml.html_to_text(tracked)
    pixel = (f'<img src="{opens.pixel_url(mjml.slot("delivery", "ref"))}" width="1" '
             'height="1" alt="" style="display:block;width:1px;height:1px;border:0">')
    body_end = tracked.lower().rfind("</body>")
    if body_end >= 0:  # the open pixel, last, so a clipped message still shows the content
        tracked = tracked[:body_end] + pixel + tracked[body_end:]
    template = StepTemplate(
        html=mjml.segments(tracked), text=mjml.segments(text),
        subject=mjml.text_segments(email["subject"], values),
        from_name=mjml.text_segments(email.get("from_name") or "{{ partner.display_name }}",
                                     values),
        reply_to=values.get("email") or None,
        feedback_id=f"{launch.public_id}:{launch.partner.slug}:tcma")
    with _cache_lock:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.pop(next(iter(_cache)))
        _cache[key] = template
    return template


# --- one message -----------------------------------------------------------------------------


def sender_address() -> str:
    """The address campaign emails come from (the vendor's sending domain): the setting
    ``CAMPAIGN_FROM_ADDRESS``, else ``MAIL_FROM``'s address."""
    from email.utils import parseaddr

    configured = current_app.config["CAMPAIGN_FROM_ADDRESS"]
    if configured:
        return configured
    address = parseaddr(current_app.config.get("MAIL_FROM") or "")[1]
    return address or "campaigns@localhost"


def _one_line(value: str) -> str:
    return " ".join(value.split())


class Undeliverable(ValueError):
    """This recipient's message cannot be built (an address no transport here can carry)."""


def ascii_address(address: str) -> str:
    """The address as mail transports carry it: an internationalised domain in its IDNA
    form; a non-ASCII local part (it needs SMTPUTF8, which we do not speak) is refused."""
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise Undeliverable("the address has non-ASCII characters before the @, which needs "
                            "SMTPUTF8 (not supported)")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        raise Undeliverable(f"the domain {domain!r} is not a valid internationalised "
                            "domain name") from None


def unsubscribe_url(ref: str) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/u/{ref}"


@dataclass(frozen=True)
class Recipient:
    email: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    job_title: str = ""
    country: str = ""

    def values(self) -> dict[str, str]:
        return {"contact.first_name": self.first_name, "contact.last_name": self.last_name,
                "contact.email": self.email, "contact.company": self.company,
                "contact.job_title": self.job_title, "contact.country": self.country}


def build(template: StepTemplate, recipient: Recipient, ref: str, *,
          from_address: str) -> EmailMessage:
    """The message for one recipient: HTML and text parts, the partner as sender name and
    Reply-To, List-Unsubscribe with one-click POST (RFC 8058), a Message-ID made from the
    delivery's reference (a resend after a crash is recognisably the same message)."""
    values = recipient.values()
    values["delivery.ref"] = ref
    values["delivery.unsubscribe_url"] = unsubscribe_url(ref)
    domain = from_address.rsplit("@", 1)[-1]
    message = EmailMessage(policy=SEVEN_BIT)
    from_name = _one_line(mjml.fill(template.from_name, values, as_html=False))
    message["From"] = formataddr((from_name, from_address))
    name = _one_line(f"{recipient.first_name} {recipient.last_name}")
    address = ascii_address(recipient.email)
    message["To"] = Address(display_name=name, addr_spec=address) if name else address
    if template.reply_to:
        message["Reply-To"] = template.reply_to
    message["Subject"] = _one_line(mjml.fill(template.subject, values, as_html=False))
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = f"<{ref}@{domain}>"
    message["List-Unsubscribe"] = (f"<{values['delivery.unsubscribe_url']}>, "
                                   f"<mailto:unsubscribe+{ref}@{domain}>")
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Feedback-ID"] = template.feedback_id
    message.set_content(mjml.fill(template.text, values, as_html=False))
    message.add_alternative(mjml.fill(template.html, values, as_html=True), subtype="html")
    return message
