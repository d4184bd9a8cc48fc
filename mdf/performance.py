"""The automatic proof of performance: a PDF of what a linked launch achieved, for a claim.

The partner does not assemble screenshots of figures the platform already holds: the claim
carries this report, built from the launch's results (``syndication.results``, computed by
the caller and passed in, so this module imports nothing of syndication). Names are drawn
with the bundled DejaVu fonts, so "Müller" and "Castañeda-Øster" come out as written.
"""

from __future__ import annotations

import functools
import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

if TYPE_CHECKING:
    from syndication.results import LaunchResults

#: The fonts the asset library bundles, read by path: mdf depends on tcma only.
FONT_DIR = Path(__file__).resolve().parent.parent / "assets" / "fonts"
REGULAR, BOLD = "MdfDejaVuSans", "MdfDejaVuSans-Bold"
#: Past this many days the chart labels every n-th day only, so labels never overlap.
MAX_DAY_LABELS = 14
#: Up to this many days each bar carries its number.
MAX_LABELLED_DAYS = 31
CLICKS_COLOUR = colors.HexColor("#1f6fb2")
LEADS_COLOUR = colors.HexColor("#e07b24")
MARGIN = 18 * mm


@functools.cache
def _fonts() -> tuple[str, str]:
    """Register the bundled TTFs with ReportLab once per process."""
    pdfmetrics.registerFont(TTFont(REGULAR, str(FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR,
                                  boldItalic=BOLD)
    return REGULAR, BOLD


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "–"


def _span(first: datetime | None, last: datetime | None) -> str:
    """When a step's emails went out: one day is written once."""
    if first is None or last is None:
        return "not sent yet"
    first, last = first.astimezone(UTC), last.astimezone(UTC)
    if first.date() == last.date():
        return f"{first:%Y-%m-%d %H:%M} – {last:%H:%M} UTC"
    return f"{_when(first)} – {_when(last)}"


def _number(value: int) -> str:
    return f"{value:,}"


def performance_pdf(results: LaunchResults, *, activity_title: str, partner_name: str,
                    generated_at: datetime) -> bytes:
    """The proof-of-performance report for ``results`` as PDF bytes (A4, one or two pages)."""
    regular, bold = _fonts()
    styles = _styles(regular, bold)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=MARGIN + 8 * mm, title=f"Proof of performance: {activity_title}",
        author=partner_name, subject=f"Launch {results.launch_id}", creator="tcma",
        # nothing may fall back to Helvetica, which lacks most letters beyond Latin-1
        initialFontName=regular)
    footer = (f"Figures from tcma's delivery ledger and tracking links; bots, link previews "
              f"and mail scanners are excluded. Generated at {_when(generated_at)}.")

    lines = simpleSplit(footer, regular, 7.5, A4[0] - 2 * MARGIN - 15 * mm)

    def on_page(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(regular, 7.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        for n, line in enumerate(reversed(lines)):
            canvas.drawString(MARGIN, MARGIN + n * 9, line)
        canvas.drawRightString(A4[0] - MARGIN, MARGIN, f"Page {document.page}")
        canvas.restoreState()

    story: list = [
        Paragraph("Proof of performance", styles["title"]),
        _facts(results, activity_title, partner_name, generated_at, styles),
        Spacer(1, 6 * mm),
        Paragraph("Results", styles["heading"]),
        _totals(results, styles),
        Spacer(1, 6 * mm),
        Paragraph("Emails, step by step", styles["heading"]),
        _steps(results, styles),
        Paragraph("* Opens are approximate: an open is counted when the email's images are "
                  "loaded, which privacy features and image proxies do or prevent on the "
                  "reader's behalf; opens by known proxies and scanners are left out. "
                  "† Not sent: unsubscribed, bounced or complaining addresses, and messages "
                  "the mail server refused.",
                  styles["note"]),
        Spacer(1, 6 * mm),
        Paragraph("Clicks and leads per day (UTC)", styles["heading"]),
        _chart(results, regular) if results.clicks_by_day or results.leads_by_day
        else Paragraph("No clicks or leads in this period.", styles["body"]),
    ]
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return out.getvalue()


def _styles(regular: str, bold: str) -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=12.5)
    return {
        "title": ParagraphStyle("title", parent=body, fontName=bold, fontSize=18, leading=22,
                                spaceAfter=4 * mm),
        "heading": ParagraphStyle("heading", parent=body, fontName=bold, fontSize=11.5,
                                  leading=14, spaceAfter=2 * mm),
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, fontSize=8.5, leading=10.5),
        "number": ParagraphStyle("number", parent=body, fontSize=8.5, leading=10.5,
                                 alignment=TA_RIGHT),
        "label": ParagraphStyle("label", parent=body, fontName=bold),
        "head": ParagraphStyle("head", parent=body, fontName=bold, fontSize=8.5, leading=10.5),
        "head_number": ParagraphStyle("head_number", parent=body, fontName=bold, fontSize=8.5,
                                      leading=10.5, alignment=TA_RIGHT),
        "note": ParagraphStyle("note", parent=body, fontSize=7.5, leading=9.5,
                               textColor=colors.HexColor("#555555"), spaceBefore=1.5 * mm),
    }


def _facts(results: LaunchResults, activity_title: str, partner_name: str,
           generated_at: datetime, styles) -> Table:
    """Who, what and when, as label / value rows."""
    end = (_when(results.finished_at) if results.finished_at
           else f"still running at {_when(generated_at)}")
    period = (f"{_when(results.started_at)} to {end}" if results.started_at
              else "not started yet")
    rows = [("Partner", partner_name), ("Activity", activity_title),
            ("Launch", f"{results.launch_id} (kit “{results.kit_name}”)"), ("Period", period)]
    table = Table([[Paragraph(label, styles["label"]), Paragraph(escape(value), styles["body"])]
                   for label, value in rows], colWidths=[28 * mm, None], hAlign="LEFT")
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), REGULAR),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    return table


def _grid(header_rows: int = 1) -> list[tuple]:
    return [("FONTNAME", (0, 0), (-1, -1), REGULAR), ("FONTSIZE", (0, 0), (-1, -1), 8.5),
            ("LINEBELOW", (0, header_rows - 1), (-1, header_rows - 1), 0.8, colors.black),
            ("LINEBELOW", (0, header_rows), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)]


def _totals(results: LaunchResults, styles) -> Table:
    rows = [("Emails sent", results.emails_sent),
            ("Human clicks", results.human_clicks),
            ("Unique clicks (people)", results.unique_clicks),
            ("Landing-page visits", results.landing_visits),
            ("Leads", results.leads)]
    table = Table([[Paragraph("Figure", styles["head"]), Paragraph("Total", styles["head_number"])]]
                  + [[Paragraph(label, styles["cell"]), Paragraph(_number(value),
                                                                  styles["number"])]
                     for label, value in rows],
                  colWidths=[60 * mm, 30 * mm], hAlign="LEFT")
    table.setStyle(TableStyle(_grid()))
    return table


def _steps(results: LaunchResults, styles) -> Table:
    """One row per step: what was sent, opened (approximately) and clicked, and when."""
    header = [("Step", "head"), ("Email", "head"), ("Sent", "head_number"),
              ("Not sent†", "head_number"), ("Opened*", "head_number"),
              ("Human clicks", "head_number"), ("Sent between", "head")]
    rows = [[Paragraph(text, styles[style]) for text, style in header]]
    for step in results.steps:
        when = _span(step.first_sent_at, step.last_sent_at)
        not_sent = step.failed + step.suppressed
        rows.append([
            Paragraph(str(step.number), styles["cell"]),
            Paragraph(escape(step.name), styles["cell"]),
            Paragraph(_number(step.sent), styles["number"]),
            Paragraph(_number(not_sent), styles["number"]),
            Paragraph(_number(step.opened), styles["number"]),
            Paragraph(_number(step.human_clicks), styles["number"]),
            Paragraph(when, styles["cell"]),
        ])
    widths = [11 * mm, 36 * mm, 16 * mm, 19 * mm, 17 * mm, 21 * mm, None]
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(_grid()))
    return table


def _chart(results: LaunchResults, font: str) -> Drawing:
    """Clicks and leads side by side for each day of the period."""
    clicks = dict(results.clicks_by_day)
    leads = dict(results.leads_by_day)
    days: list[date] = sorted(set(clicks) | set(leads))
    width, height = A4[0] - 2 * MARGIN, 62 * mm
    drawing = Drawing(width, height, initialFontName=font)
    chart = VerticalBarChart()
    chart.x, chart.y = 12 * mm, 14 * mm
    chart.width, chart.height = width - 16 * mm, height - 24 * mm
    chart.data = [[clicks.get(d, 0) for d in days], [leads.get(d, 0) for d in days]]
    chart.bars[0].fillColor, chart.bars[1].fillColor = CLICKS_COLOUR, LEADS_COLOUR
    chart.bars.strokeColor = None
    chart.groupSpacing, chart.barSpacing = 3, 0.5
    every = max(1, -(-len(days) // MAX_DAY_LABELS))
    chart.categoryAxis.categoryNames = [d.strftime("%d %b") if i % every == 0 else ""
                                        for i, d in enumerate(days)]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.boxAnchor = "n"
    top = max([1, *clicks.values(), *leads.values()])
    step = max(1, -(-top // 5))
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, step * 5
    chart.valueAxis.valueStep = step  # whole numbers only: counts are never fractions
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = "%d"
    if len(days) <= MAX_LABELLED_DAYS:  # leads are small beside clicks: say their numbers
        chart.barLabelFormat = lambda value: f"{value:,.0f}" if value else ""
        chart.barLabels.fontName = font
        chart.barLabels.fontSize = 6
        chart.barLabels.nudge = 5
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = width - 48 * mm, height - 2 * mm
    legend.fontName, legend.fontSize = font, 8
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.dx = legend.dy = 7
    legend.colorNamePairs = [(CLICKS_COLOUR, "Human clicks"), (LEADS_COLOUR, "Leads")]
    drawing.add(legend)
    return drawing
