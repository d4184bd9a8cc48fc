"""Email templates: MJML compiles, errors and refused templates name their line, and values
are data, never template source."""

from __future__ import annotations

from campaigns.mjml import (
    compile_mjml,
    editable_blocks,
    fill_contact,
    html_to_text,
    mjml_problems,
    partner_html,
    render_text,
    template_problems,
)

BODY = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text css-class="tcma-editable" tcma-block="intro">Hi {{ contact.first_name }},</mj-text>
        <mj-text>Call {{ partner.display_name }} on {{ partner.phone }}.</mj-text>
        <mj-button href="{{ partner.website }}">Visit us</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""


def lines(problems) -> dict[int | None, str]:
    return {p.line: p.message for p in problems}


def test_mjml_compiles_to_html_with_the_editable_blocks_listed():
    assert mjml_problems("mjml", BODY) == []
    html = compile_mjml(BODY)
    assert html.startswith("<!doctype html>") and "tcma-editable" in html
    assert editable_blocks(BODY) == ["intro"]


def test_an_mjml_error_names_its_line():
    broken = "<mjml>\n<mj-body>\n<mj-include path=\"../../etc/passwd\" />\n</mj-body>\n</mjml>"
    problems = mjml_problems("mjml", broken)
    assert [p.line for p in problems] == [3]
    assert "mj-include" in problems[0].message
    unclosed = "<mjml>\n<mj-body>\n<mj-section>\n"
    found = mjml_problems("mjml", unclosed)
    assert found and found[0].message.startswith("MJML error") and "\n" not in found[0].message


def test_unknown_tokens_and_syntax_errors_name_their_line():
    body = BODY.replace("{{ partner.phone }}", "{{ partner.fax }}").replace(
        "Visit us", "{{ contact.salary }}")
    found = lines(mjml_problems("mjml", body))
    assert "partner.fax" in found[6] and "contact.salary" in found[7]
    unclosed_if = template_problems("subject", "Hi {{ contact.first_name }}\n{% if x %}")
    assert "unexpected end of template" in unclosed_if[0].message.lower()
    assert template_problems("subject", "Hi\n{{ contact.first_name ")[0].line == 2


def test_templates_reaching_python_internals_are_refused_with_the_line():
    for source in ("{{ ''.__class__ }}", "{{ cycler.__init__ }}",
                   "{{ partner.phone.__class__.__mro__ }}", "{% for x in range(3) %}{% endfor %}",
                   "{{ self }}", "{{ partner.phone|attr('__class__') }}"):
        problems = template_problems("subject", "line one\n" + source)
        assert problems, source
        assert {p.line for p in problems} == {2}, source


def test_contact_tokens_cannot_be_conditions_because_they_are_filled_per_recipient():
    assert template_problems("mjml", "{% if contact.company %}x{% endif %}")


def test_partner_values_are_escaped_data_and_never_become_template_source():
    values = {"display_name": "<script>alert(1)</script> {{ contact.email }}",
              "phone": "+1 555", "website": "https://example.com/?a=1&b=2"}
    html = fill_contact(partner_html(BODY, values), {"first_name": "<b>Kim</b>",
                                                     "email": "kim@example.com"})
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert "kim@example.com" not in html  # the partner's braces stayed text
    assert "&lt;b&gt;Kim&lt;/b&gt;" in html
    text = html_to_text(html)
    assert "Hi <b>Kim</b>," in text and "{{ contact.email }}" in text
    assert "Visit us (https://example.com/?a=1&b=2)" in text


def test_subject_and_from_name_render_as_plain_text():
    assert render_text("{{ partner.display_name|upper }} for {{ contact.first_name }}",
                       {"display_name": "A & B"}, {"first_name": "Kim"}) == "A & B for Kim"
    injected = {"first_name": "Kim\r\nBcc: x@example.com"}
    assert render_text("{{ contact.first_name }}", {}, injected) == "Kim Bcc: x@example.com"
