"""Which clicks are people: the rules that keep bots, previews, scanners and repeats out of the
human count. Pure functions over what the redirect saw, so each rule is tested alone.

The hard case is email security scanners (Microsoft Defender Safe Links, Mimecast,
Proofpoint, Barracuda...): many fetch every link of a message seconds after delivery, some
with a browser's user agent from a data centre. Three signals catch them without an IP list:
their own user agents where they announce themselves, the time since the email's delivery
(when the link carries its delivery), and bursts (one visitor opening several different links
within seconds, which people reading an email do not do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from syndication.links.models import ClickKind

#: Link-preview fetchers: they unfurl a link when it is posted, before anyone clicks.
PREVIEW_AGENTS = re.compile(
    r"slackbot|slack-imgproxy|linkedinbot|twitterbot|facebookexternalhit|facebookcatalog|"
    r"facebot|meta-externalagent|whatsapp|telegrambot|discordbot|skypeuripreview|"
    r"microsoftpreview|teams|embedly|iframely|redditbot|pinterest|vkshare|applebot|"
    r"google-pagerenderer|bitlybot|tumblr|mastodon|snapchat|viber|line-poker|kakaotalk|"
    r"outlook-ios-linkpreview|zoominfobot|bluesky|cardyb",
    re.IGNORECASE)

#: Email security gateways that say who they are.
SCANNER_AGENTS = re.compile(
    r"barracuda|mimecast|proofpoint|ppops|symantec|messagelabs|trendmicro|fortiguard|"
    r"sophos|forcepoint|safelinks|mcafee|zscaler|cisco|ironport|checkpoint|avanan|"
    r"agari|abnormal|cloudmark|spamtitan|vadesecure|hornetsecurity|libraesva",
    re.IGNORECASE)

#: Programs, crawlers and headless browsers: no person behind them.
BOT_AGENTS = re.compile(
    r"(?<!cu)bot\b|bot/|crawl|spider|slurp|curl/|wget/|python-requests|python-urllib|aiohttp|"
    r"httpx|go-http-client|java/|okhttp|apache-httpclient|libwww|node-fetch|axios|undici|"
    r"headlesschrome|phantomjs|puppeteer|playwright|selenium|scrapy|httpclient|"
    r"postmanruntime|insomnia|powershell|winhttp|guzzle|ruby|perl|^mozilla/4\.0$|"
    r"preview|monitor|uptime|pingdom|statuscake|datadog|newrelic|lighthouse|"
    r"google-inspectiontool|feedfetcher|bingpreview|yandex|baiduspider|semrush|ahrefs|"
    r"dataprovider|netcraft|censys|masscan|zgrab|nmap",
    re.IGNORECASE)

#: A click this soon after its email was delivered is a scanner, not a reader.
SCANNER_SECONDS = 10
#: One visitor opening this many different links within ``BURST_SECONDS`` is a scanner.
BURST_LINKS = 3
BURST_SECONDS = 5
#: A person's second click on the same link within this time is a repeat.
REPEAT_WINDOW = timedelta(hours=24)


@dataclass
class RawClick:
    """A click as the redirect buffered it, before it is classified."""

    click_id: str
    code: str
    at: datetime
    visitor: str
    ip_hash: str
    user_agent: str
    referrer: str
    prefetch: bool
    delivery_ref: str | None
    link_id: int | None = None
    partner_id: int | None = None
    kind: ClickKind | None = None
    reason: str = ""

    @property
    def human(self) -> bool:
        return self.kind is None or self.kind is ClickKind.REPEAT


def by_request(click: RawClick, delivered_at: datetime | None = None) -> None:
    """Flag ``click`` from what its own request says: prefetch headers, user agent, and the
    time since its email's delivery when known."""
    agent = click.user_agent.strip()
    if click.prefetch:
        click.kind, click.reason = ClickKind.PREFETCH, "prefetch request header"
    elif not agent:
        click.kind, click.reason = ClickKind.BOT, "no user agent"
    elif match := PREVIEW_AGENTS.search(agent):
        click.kind, click.reason = ClickKind.PREVIEW, f"user agent: {match.group(0)}"
    elif match := SCANNER_AGENTS.search(agent):
        click.kind, click.reason = ClickKind.SCANNER, f"user agent: {match.group(0)}"
    elif match := BOT_AGENTS.search(agent):
        click.kind, click.reason = ClickKind.BOT, f"user agent: {match.group(0)}"
    elif not agent.lower().startswith(("mozilla/", "opera/")):
        # Every browser a person uses has said "Mozilla/5.0" for twenty years.
        click.kind, click.reason = ClickKind.BOT, "not a browser's user agent"
    elif delivered_at is not None and timedelta(0) <= click.at - delivered_at < timedelta(
            seconds=SCANNER_SECONDS):
        seconds = (click.at - delivered_at).total_seconds()
        click.kind, click.reason = ClickKind.SCANNER, f"{seconds:.1f} s after delivery"


def bursts(clicks: list[RawClick], earlier: list[tuple[str, int, datetime]]) -> None:
    """Flag as scanners the human clicks of visitors who opened ``BURST_LINKS`` or more
    different links within ``BURST_SECONDS``. ``earlier``: (visitor, link id, time) of
    recent stored clicks, so a burst split across two batches is still seen."""
    window = timedelta(seconds=BURST_SECONDS)
    seen: dict[str, list[tuple[datetime, int | None, RawClick | None]]] = {}
    for visitor, link_id, at in earlier:
        seen.setdefault(visitor, []).append((at, link_id, None))
    for click in clicks:
        seen.setdefault(click.visitor, []).append((click.at, click.link_id, click))
    for visits in seen.values():
        if len(visits) < BURST_LINKS:
            continue
        visits.sort(key=lambda v: v[0])
        # A sliding window with a count per link: linear in the visits, however many.
        in_window: dict[int | None, int] = {}
        start = flagged_to = 0
        for end, (at, link, _) in enumerate(visits):
            in_window[link] = in_window.get(link, 0) + 1
            while at - visits[start][0] > window:
                gone = visits[start][1]
                in_window[gone] -= 1
                if not in_window[gone]:
                    del in_window[gone]
                start += 1
            if len(in_window) >= BURST_LINKS:
                for _, _, click in visits[max(start, flagged_to):end + 1]:
                    if click is not None and click.human:
                        click.kind = ClickKind.SCANNER
                        click.reason = (f"{len(in_window)} different links within "
                                        f"{BURST_SECONDS} s")
                flagged_to = end + 1


def repeats(clicks: list[RawClick], earlier: set[tuple[str, int]]) -> None:
    """Mark a person's later clicks on the same link within the window as repeats.
    ``earlier``: (visitor, link id) pairs with a stored human click within the window."""
    seen = set(earlier)
    for click in sorted(clicks, key=lambda c: c.at):
        if click.kind is not None or click.link_id is None:
            continue
        pair = (click.visitor, click.link_id)
        if pair in seen:
            click.kind, click.reason = ClickKind.REPEAT, "same visitor within 24 h"
        seen.add(pair)
