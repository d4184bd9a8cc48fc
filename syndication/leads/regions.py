"""Where a lead is: its country's partner region, and the country's main language, for the
routing rules.

A small explicit table of common countries, not a full geography: a country missing here has
no region (rules naming regions do not match it; rules naming the country still do). The
region names are the default ``PARTNER_REGIONS``; a program with other regions names
countries in its rules instead.
"""

from __future__ import annotations

_REGION_COUNTRIES: dict[str, str] = {
    "AMER": "US CA PR",
    "LATAM": "MX BR AR CL CO PE EC VE UY PY BO CR PA GT DO SV HN NI CU JM TT",
    "EMEA": ("GB IE FR DE AT CH BE NL LU IT ES PT DK SE NO FI IS PL CZ SK HU RO BG GR HR SI "
             "RS BA ME MK AL EE LV LT UA MD BY TR CY MT IL AE SA QA KW BH OM JO LB EG MA TN DZ "
             "ZA NG KE GH ET TZ UG RU"),
    "APAC": "AU NZ JP CN HK TW KR SG MY ID TH VN PH IN PK BD LK NP KH MM MN",
}

#: ISO 3166 code -> partner region.
COUNTRY_REGIONS: dict[str, str] = {
    country: region for region, countries in _REGION_COUNTRIES.items()
    for country in countries.split()
}

#: ISO 3166 code -> the country's main language, only where one language clearly is (no
#: Belgium, Switzerland, Canada or India here).
COUNTRY_LANGUAGES: dict[str, str] = {
    **dict.fromkeys("US GB IE AU NZ SG ZA NG KE GH".split(), "en"),
    **dict.fromkeys("DE AT LI".split(), "de"),
    **dict.fromkeys("FR MC".split(), "fr"),
    **dict.fromkeys("ES MX AR CL CO PE EC VE UY PY BO CR PA GT DO SV HN NI CU".split(), "es"),
    **dict.fromkeys("PT BR".split(), "pt"),
    "IT": "it", "NL": "nl", "DK": "da", "SE": "sv", "NO": "nb", "FI": "fi", "PL": "pl",
    "CZ": "cs", "SK": "sk", "HU": "hu", "RO": "ro", "BG": "bg", "GR": "el", "HR": "hr",
    "SI": "sl", "TR": "tr", "JP": "ja", "KR": "ko", "CN": "zh", "TW": "zh", "TH": "th",
    "VN": "vi", "ID": "id", "IL": "he", "UA": "uk", "RU": "ru",
    **dict.fromkeys("AE SA QA KW BH OM JO LB EG MA TN DZ".split(), "ar"),
}


def region_of(country: str | None) -> str | None:
    """The partner region of an ISO country code, or None when the table does not know it."""
    return COUNTRY_REGIONS.get((country or "").strip().upper())


def primary(language: str | None) -> str:
    """A language tag's primary subtag, lower-case: ``pt-BR`` -> ``pt``."""
    return (language or "").strip().replace("_", "-").split("-")[0].lower()


def language_of(language: str | None, country: str | None) -> str:
    """The lead's language (primary subtag): its own when known, else its country's."""
    return primary(language) or COUNTRY_LANGUAGES.get((country or "").strip().upper(), "")
