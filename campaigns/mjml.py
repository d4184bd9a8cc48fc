"""Email templates: token checks, MJML compilation and rendering for a partner and a contact.

Templates are vendor text; partner and contact values are data and never template source.
Rendering is two passes:

1. per (kit version, email, brand profile): ``{{ partner.* }}`` tokens are filled in the MJML
   by a sandboxed, autoescaping Jinja environment (values HTML-escaped, braces as entities),
   while each ``{{ contact.* }}`` token becomes a slot: a random per-process word that no
   value can contain. The result is compiled by mjml-python once and cached;
2. per recipient: the compiled email is split at its slots once (``segments``) and each
   recipient's values are joined in, escaped: data, never template source.

Contact tokens are therefore plain substitutions: inside ``{% if %}`` or a filter they are
refused by ``template_problems`` because pass 1 cannot know their value.
"""

from __future__ import annotations

import functools
import html
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from assets.cobrand.text import PARTNER_TOKENS, SAFE_FILTERS

CONTACT_TOKENS = ("first_name", "last_name", "email", "company", "job_title", "country")
#: what "preview as partner" puts in contact tokens
SAMPLE_CONTACT = {"first_name": "Kim", "last_name": "Nakamura-Okonkwo",
                  "email": "kim.nakamura@example.com", "company": "Contoso Retail & Co.",
                  "job_title": "Head of IT", "country": "DE"}
MAX_MJML = 200_000  # characters
#: an editable block: ``<mj-text css-class="tcma-editable" tcma-block="intro">``
EDITABLE = re.compile(r"<mj-text\b[^>]*\btcma-block\s*=\s*\"([^\"]*)\"[^>]*>", re.I)
_CONTACT_LINK = re.compile(r"\bhref\s*=\s*\"[^\"]*\{\{[^\"]*contact\.", re.I)
_INCLUDE = re.compile(r"<\s*mj-include\b", re.I)
_POSITION = re.compile(r"position (\d+):(\d+)")
_ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Getattr, nodes.Name,
                  nodes.Filter, nodes.Const, nodes.If, nodes.Not, nodes.And, nodes.Or)


@dataclass(frozen=True)
class Problem:
    """One thing blocking publication, named by field and line (1-based; None: whole field)."""

    field: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f" line {self.line}" if self.line else ""
        return f"{self.field}{where}: {self.message}"


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=autoescape,
                               keep_trailing_newline=True)
    env.filters = {name: env.filters[name] for name in SAFE_FILTERS}
    env.tests = {}
    env.globals = {}
    return env


_TEXT_ENV = _environment(False)
_HTML_ENV = _environment(True)


def _line(node: nodes.Node, offset: int) -> int:
    return (getattr(node, "lineno", 1) or 1) + offset


def template_problems(field: str, source: str, *, line_offset: int = 0) -> list[Problem]:
    """Unknown tokens, syntax errors and anything reaching past the token language."""
    try:
        tree = _TEXT_ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [Problem(field, (exc.lineno or 1) + line_offset,
                        f"template error: {(exc.message or '').rstrip('.')}.")]
    problems: list[Problem] = []
    used = {id(n.node) for n in tree.find_all(nodes.Getattr)}
    guarded = set()
    for node in tree.find_all((nodes.If, nodes.Filter)):
        test = node.test if isinstance(node, nodes.If) else node.node
        guarded |= {id(g) for g in test.find_all(nodes.Getattr)}
        if isinstance(test, nodes.Getattr):
            guarded.add(id(test))
    for node in tree.find_all(nodes.Node):
        line = _line(node, line_offset)
        if not isinstance(node, _ALLOWED_NODES):
            problems.append(Problem(field, line, f"only {{{{ partner.<field> }}}} and "
                                    f"{{{{ contact.<field> }}}} tokens, the filters "
                                    f"{', '.join(SAFE_FILTERS)} and {{% if %}} are allowed "
                                    f"(found {type(node).__name__.lower()})."))
        elif isinstance(node, nodes.Getattr):
            if not isinstance(node.node, nodes.Name):
                problems.append(Problem(field, line, "tokens look like {{ partner.phone }}; "
                                        "attributes of other values are not allowed."))
            elif node.node.name == "partner" and node.attr not in PARTNER_TOKENS:
                problems.append(Problem(field, line, f"unknown token {{{{ partner.{node.attr} "
                                        f"}}}}; partner fields are {', '.join(PARTNER_TOKENS)}."))
            elif node.node.name == "contact" and node.attr not in CONTACT_TOKENS:
                problems.append(Problem(field, line, f"unknown token {{{{ contact.{node.attr} "
                                        f"}}}}; contact fields are {', '.join(CONTACT_TOKENS)}."))
            elif node.node.name == "contact" and id(node) in guarded:
                problems.append(Problem(field, line, "contact tokens are filled per recipient: "
                                        "use them as plain {{ contact.field }}, not in "
                                        "{% if %} or filters."))
        elif isinstance(node, nodes.Name):
            if node.name not in ("partner", "contact"):
                problems.append(Problem(field, line, f"unknown token {{{{ {node.name} }}}}; use "
                                        "partner.<field> or contact.<field>."))
            elif id(node) not in used:
                problems.append(Problem(field, line, f"name a field, e.g. "
                                        f"{{{{ {node.name}.email }}}}."))
        elif isinstance(node, nodes.Filter):
            if node.name not in SAFE_FILTERS:
                problems.append(Problem(field, line, f"unknown filter {node.name!r}; use one of "
                                        f"{', '.join(SAFE_FILTERS)}."))
            if not all(isinstance(a, nodes.Const) for a in node.args) or node.kwargs:
                problems.append(Problem(field, line,
                                        f"filter {node.name!r} takes only plain values."))
    return list(dict.fromkeys(problems))


def editable_blocks(mjml: str) -> list[str]:
    """The names of the blocks a partner may change, in document order."""
    return [m.group(1) for m in EDITABLE.finditer(mjml)]


def mjml_problems(field: str, mjml: str) -> list[Problem]:
    """Everything wrong with an MJML body: size, includes, tokens, blocks, compilation."""
    if not mjml.strip():
        return [Problem(field, None, "write the email body in MJML.")]
    if len(mjml) > MAX_MJML:
        return [Problem(field, None, f"keep the body under {MAX_MJML:,} characters.")]
    problems = [Problem(field, mjml.count("\n", 0, m.start()) + 1,
                        "mj-include is not allowed: put the content in the body.")
                for m in _INCLUDE.finditer(mjml)]
    if not mjml.lstrip().startswith("<mjml"):
        problems.append(Problem(field, 1, "the body must start with <mjml>."))
    problems += template_problems(field, mjml)
    seen: set[str] = set()
    for m in EDITABLE.finditer(mjml):
        name, line = m.group(1), mjml.count("\n", 0, m.start()) + 1
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", name):
            problems.append(Problem(field, line, f"editable block name {name!r}: use lower-case "
                                    "letters, digits, - and _."))
        elif name in seen:
            problems.append(Problem(field, line, f"two editable blocks are named {name!r}."))
        seen.add(name)
    for m in _CONTACT_LINK.finditer(mjml):
        problems.append(Problem(field, mjml.count("\n", 0, m.start()) + 1,
                                "a link's address may use partner tokens but not contact "
                                "tokens: each partner shares one tracked link per address."))
    if not problems:
        failure = _compile_failure(mjml)
        if failure:
            problems.append(Problem(field, failure[0], f"MJML error: {failure[1]}"))
    return problems


@functools.lru_cache(maxsize=256)
def _compile_failure(mjml: str) -> tuple[int | None, str] | None:
    """Why ``mjml`` does not compile (line, message), or None; cached, as editors and API
    answers list problems often."""
    try:
        compile_mjml(mjml)
    except MjmlError as exc:
        return exc.line, str(exc)
    return None


class MjmlError(ValueError):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def compile_mjml(mjml: str) -> str:
    """MJML to HTML with mjml-python; ``mj-include`` (the only file access MJML has) refused."""
    from mjml import mjml2html

    match = _INCLUDE.search(mjml)
    if match:
        raise MjmlError("mj-include is not allowed", mjml.count("\n", 0, match.start()) + 1)
    try:
        return mjml2html(mjml)
    except ValueError as exc:
        text = str(exc)
        pos = _POSITION.search(text)
        # mjml-python reports character offsets ("position start:end"); people read lines
        line = mjml.count("\n", 0, int(pos.group(1))) + 1 if pos else None
        raise MjmlError(_POSITION.sub(f"line {line}", text) if pos else text, line) from exc


def _data(value: object) -> Markup:
    """A partner value as inert HTML: escaped, with braces as entities so that, inside the
    MJML source pass 1 renders, it can never read as a tag."""
    text = "" if value is None else str(value)
    return Markup(str(escape(text)).replace("{", "&#123;").replace("}", "&#125;"))


#: Recipient slots in a compiled email are this per-process random word around the slot's
#: name: partner values and vendor text cannot contain it, so they can never fill a slot or
#: be filled as one, and MJML leaves plain words alone in text and attributes alike.
_MARK = "tcma" + secrets.token_hex(8)
_SLOT = re.compile(re.escape(_MARK) + r"\.(contact|delivery)\.([a-z_]+)\." + re.escape(_MARK))
DELIVERY_SLOTS = ("ref", "unsubscribe_url")


def slot(namespace: str, name: str) -> str:
    """The placeholder a compiled email carries for a recipient value (``contact.email``)."""
    return f"{_MARK}.{namespace}.{name}.{_MARK}"


_PASSTHROUGH = {
    "contact": {name: Markup(slot("contact", name)) for name in CONTACT_TOKENS},
    "delivery": {name: Markup(slot("delivery", name)) for name in DELIVERY_SLOTS},
}

#: The footer every campaign email carries: who sends it, their postal address (the law
#: requires one in commercial email) and a visible unsubscribe link.
FOOTER = """<mj-section padding="12px 0 24px"><mj-column>
<mj-divider border-width="1px" border-color="#dddddd" padding="0 25px 12px" />
<mj-text font-size="12px" line-height="1.5" color="#555555" css-class="tcma-footer">
{{ partner.display_name }}<br/>{{ partner.address_line1 }}{% if partner.address_line2 %},
{{ partner.address_line2 }}{% endif %}<br/>{{ partner.postal_code }} {{ partner.city }}{% if
partner.state %}, {{ partner.state }}{% endif %}{% if partner.country %},
{{ partner.country }}{% endif %}<br/>You receive this email because you are in contact with
{{ partner.display_name }}. <a href="{{ delivery.unsubscribe_url }}"
style="color:#555555">Unsubscribe</a>
</mj-text></mj-column></mj-section>
"""
_BODY_END = re.compile(r"</mj-body\s*>", re.I)
_HEAD = re.compile(r"<mj-head\b[^>]*>", re.I)
_ROOT = re.compile(r"<mjml\b[^>]*>", re.I)


def _block_html(text: str) -> str:
    """A partner's block text as MJML text: paragraphs on blank lines, breaks on newlines."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    return "".join(f"<p>{'<br/>'.join(str(_data(line)) for line in p.split(chr(10)))}</p>"
                   for p in paragraphs)


def apply_blocks(mjml: str, blocks: Mapping[str, str]) -> str:
    """Put the partner's texts into the kit's editable blocks (plain text, escaped)."""
    if not blocks:
        return mjml
    out, pos = [], 0
    for match in EDITABLE.finditer(mjml):
        name = match.group(1)
        close = mjml.lower().find("</mj-text>", match.end())
        if name not in blocks or close < 0:
            continue
        out += [mjml[pos:match.end()], _block_html(blocks[name])]
        pos = close
    return "".join(out) + mjml[pos:]


def with_extras(mjml: str, *, preheader: str = "", footer: bool = True) -> str:
    """The vendor's MJML with the preheader (``mj-preview``) and the compliance footer."""
    if preheader.strip():
        preview = f"<mj-preview>{html.escape(preheader, quote=False)}</mj-preview>"
        head = _HEAD.search(mjml)
        if head:
            mjml = mjml[:head.end()] + preview + mjml[head.end():]
        else:
            root = _ROOT.search(mjml)
            if root:
                mjml = mjml[:root.end()] + f"<mj-head>{preview}</mj-head>" + mjml[root.end():]
    if footer:
        ends = list(_BODY_END.finditer(mjml))
        if ends:
            mjml = mjml[:ends[-1].start()] + FOOTER + mjml[ends[-1].start():]
    return mjml


@functools.lru_cache(maxsize=512)
def _partner_html(mjml: str, partner_items: tuple[tuple[str, str], ...]) -> str:
    values = {k: _data(v) for k, v in partner_items}
    source = _HTML_ENV.from_string(mjml).render(partner=values, **_PASSTHROUGH)
    return compile_mjml(source)


def partner_html(mjml: str, partner: Mapping[str, object]) -> str:
    """Pass 1: the MJML filled for one partner and compiled, with a slot for each recipient
    value (cached by source and values, so once per kit version, email and brand profile)."""
    items = tuple(sorted((k, "" if partner.get(k) is None else str(partner.get(k)))
                         for k in PARTNER_TOKENS))
    return _partner_html(mjml, items)


Segments = tuple  # literal text and ("contact" | "delivery", name) slots, alternating


@functools.lru_cache(maxsize=1024)
def segments(compiled: str) -> Segments:
    """A compiled email split into literal text and recipient slots, once."""
    parts: list = []
    pos = 0
    for match in _SLOT.finditer(compiled):
        parts += [compiled[pos:match.start()], f"{match.group(1)}.{match.group(2)}"]
        pos = match.end()
    parts.append(compiled[pos:])
    return tuple(parts)


def fill(parts: Segments, values: Mapping[str, str], *, as_html: bool) -> str:
    """Pass 2: one recipient's values (``{"contact.first_name": ..., "delivery.ref": ...}``)
    into the slots, HTML-escaped for the HTML part; never parsed as a template."""
    out = []
    for n, part in enumerate(parts):
        if n % 2 == 0:
            out.append(part)
        else:
            value = values.get(part, "")
            out.append(str(escape(value)) if as_html else value)
    return "".join(out)


def contact_values(contact: Mapping[str, object]) -> dict[str, str]:
    return {f"contact.{k}": "" if contact.get(k) is None else str(contact.get(k))
            for k in CONTACT_TOKENS}


def fill_contact(compiled: str, contact: Mapping[str, object],
                 delivery: Mapping[str, str] | None = None) -> str:
    """Pass 2 for the HTML: one recipient's values into a partner's compiled email."""
    values = contact_values(contact)
    values.update({f"delivery.{k}": v for k, v in (delivery or {}).items()})
    return fill(segments(compiled), values, as_html=True)


def text_segments(template: str, partner: Mapping[str, object]) -> Segments:
    """Pass 1 for a subject or from-name: partner tokens filled, a slot per contact token
    (so the sender fills each recipient with ``fill`` instead of rendering again)."""
    values = {k: "" if partner.get(k) is None else str(partner.get(k)) for k in PARTNER_TOKENS}
    passthrough = {name: slot("contact", name) for name in CONTACT_TOKENS}
    return segments(_TEXT_ENV.from_string(template).render(partner=values, contact=passthrough))


def render_text(template: str, partner: Mapping[str, object],
                contact: Mapping[str, object]) -> str:
    """A subject, preheader or from-name for one partner and recipient: plain text on one
    line (these become mail headers, where a newline in a value would start a new header)."""
    values = {k: "" if partner.get(k) is None else str(partner.get(k)) for k in PARTNER_TOKENS}
    people = {k: "" if contact.get(k) is None else str(contact.get(k)) for k in CONTACT_TOKENS}
    return " ".join(_TEXT_ENV.from_string(template).render(partner=values,
                                                            contact=people).split())


class _Text(HTMLParser):
    BLOCKS = {"p", "div", "tr", "h1", "h2", "h3", "h4", "li", "table", "br"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.href: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "head", "title"):
            self.skip += 1
        elif tag == "a":
            self.href = dict(attrs).get("href")
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag == "a" and self.href:
            if self.href.startswith(("http", "mailto:", _MARK)):
                self.parts.append(f" ({self.href})")
            self.href = None
        elif tag in self.BLOCKS and tag != "br":
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(document: str) -> str:
    """The plain-text part: the HTML's words, a line per block, links written out."""
    parser = _Text()
    parser.feed(re.sub(r"<!--.*?-->", "", document, flags=re.S))
    text = html.unescape("".join(parser.parts))
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
