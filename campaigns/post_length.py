"""How each network counts a post's length against its limit.

X counts the way twitter-text v3 does (``config/v3.json``): code points in a few ranges weigh
1, all others (CJK, most symbols) 2; every URL counts as 23 however long it is, with or
without ``https://``; an emoji counts as 2 however many code points make it (ZWJ sequences,
flags, keycaps). LinkedIn and Facebook count code points. Text is NFC-normalised first.
"""

from __future__ import annotations

import re
import unicodedata

#: twitter-text v3 (config/v3.json): code points in these ranges weigh 1, all others 2; each
#: URL counts as 23; an emoji, however many code points it is made of, counts as 2.
X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
X_URL_LENGTH = 23
X_HEAVY = 2

#: Top-level domains a bare address (``example.com/path``) is recognised by, as X does for
#: addresses without ``https://``. X knows every TLD; these are the common ones.
COMMON_TLDS = (
    "com", "net", "org", "info", "biz", "edu", "gov", "io", "co", "ai", "app", "dev", "me",
    "tv", "us", "uk", "de", "fr", "es", "it", "nl", "eu", "ch", "at", "be", "se", "no", "dk",
    "fi", "pl", "pt", "ie", "cz", "jp", "cn", "in", "au", "nz", "ca", "br", "mx", "ru", "za",
    "sg", "hk", "kr", "tw", "ly", "online", "site", "tech", "cloud", "shop", "store", "blog",
    "news", "xyz", "link", "page", "ms", "to", "fm", "gl", "gd",
)
_TLD = "|".join(sorted(COMMON_TLDS, key=len, reverse=True))
URL = re.compile(
    r"(?<![A-Za-z0-9@$#./-])(?:"
    r"(?P<protocol>https?://)[^\s<>\"]+"
    r"|(?P<domain>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:" + _TLD + r"))(?![A-Za-z0-9-])"
    r"(?P<path>[/?#][^\s<>\"]*)?)", re.I)
_URL_TRAILING = ".,;:!?'\""
#: ``t.co`` alone is no link for X, ``t.co/abc`` is: a short name under a country code needs a
#: path.
_SHORT_CC = re.compile(r"^[a-z0-9]{1,2}\.[a-z]{2}$", re.I)

_PICTO = (r"\u203C\u2049\u2122\u2139\u2194-\u2199\u21A9\u21AA\u231A\u231B\u2328\u23CF"
          r"\u23E9-\u23F3\u23F8-\u23FA\u24C2\u25AA\u25AB\u25B6\u25C0\u25FB-\u25FE"
          r"\u2600-\u27BF\u2934\u2935\u2B05-\u2B07\u2B1B\u2B1C\u2B50\u2B55\u3030\u303D"
          r"\u3297\u3299\U0001F000-\U0001F1E5\U0001F200-\U0001F3FA\U0001F400-\U0001FAFF")
_ELEMENT = (r"(?:[" + _PICTO + r"][\uFE0F\U0001F3FB-\U0001F3FF]?"
            r"|[\u00A9\u00AE]\uFE0F)")  # (c) and (r) are emoji only in emoji presentation
EMOJI = re.compile(
    r"\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F"  # subdivision flags (England)
    r"|[\U0001F1E6-\U0001F1FF]{2}"  # country flags: two regional indicators
    r"|[0-9#*]\uFE0F?\u20E3"  # keycaps
    r"|" + _ELEMENT + r"(?:\u200D" + _ELEMENT + r")*")  # ZWJ sequences are one emoji


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in URL.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _URL_TRAILING:
            end -= 1
        url = text[start:end]
        if url.endswith(")") and url.count("(") < url.count(")"):
            end -= 1
        if not match.group("protocol") and not match.group("path") \
                and _SHORT_CC.match(match.group("domain")):
            continue
        spans.append((start, end))
    return spans


def _x_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in X_LIGHT_RANGES) else X_HEAVY


def weighted_length(network: str, text: str) -> int:
    """``text``'s length as ``network`` counts it against its limit: X like twitter-text v3
    (each URL 23, CJK and emoji 2), LinkedIn and Facebook in code points; NFC first."""
    text = unicodedata.normalize("NFC", text or "")
    if network != "x":
        return len(text)
    urls = dict(_url_spans(text))
    emoji = {m.start(): m.end() for m in EMOJI.finditer(text) if m.end() > m.start()}
    total, i = 0, 0
    while i < len(text):
        if i in urls:
            total, i = total + X_URL_LENGTH, urls[i]
        elif i in emoji:
            total, i = total + X_HEAVY, emoji[i]
        else:
            total, i = total + _x_weight(text[i]), i + 1
    return total
