"""Money as integer minor units with its currency: exact on every database, SQLite included.

Amounts arrive as text ("4000", "3,850.00", "3850.5") or Decimal and are stored as integers
of the currency's minor unit (cents; yen have none). Nothing here ever touches a float.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from tcma.errors import FieldError, ValidationFailed

#: ISO 4217 currencies a fund may use, with their minor-unit exponent.
CURRENCIES: dict[str, int] = {
    "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "SEK": 2, "NOK": 2,
    "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "RON": 2, "BRL": 2, "MXN": 2, "INR": 2, "CNY": 2,
    "HKD": 2, "SGD": 2, "ZAR": 2, "AED": 2, "SAR": 2, "ILS": 2, "TRY": 2, "JPY": 0, "KRW": 0,
    "CLP": 0, "ISK": 0,
}
#: No single amount in a fund can be larger than this many major units (absurd input).
MAX_MAJOR = 10**9
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")


def check_currency(code: str, field: str = "currency") -> str:
    code = (code or "").strip().upper()
    if code not in CURRENCIES:
        raise ValidationFailed([FieldError(field, f"Use a currency code such as EUR, USD or "
                                                  f"JPY (not {code or 'nothing'}).")])
    return code


def parse(value: object, currency: str, field: str, *, allow_zero: bool = False) -> int:
    """``value`` in ``currency`` as integer minor units, or ValidationFailed naming
    ``field``: negative, non-numeric, too precise ("10.001 EUR") and absurd amounts are
    refused, never rounded."""
    exponent = CURRENCIES[currency]
    if isinstance(value, float):
        raise TypeError("money never comes as a float")  # a programming error
    text = str(value).strip().replace(" ", "").replace("\u00a0", "") if value is not None else ""
    if text.upper().endswith(currency):
        text = text[:-3]
    if _GROUPED.match(text):
        text = text.replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed([FieldError(field, f"Write an amount like 1250.00 "
                                                  f"(not {str(value)[:40]!r}).")]) from None
    if not amount.is_finite():
        raise ValidationFailed([FieldError(field, "Write an amount like 1250.00.")])
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValidationFailed([FieldError(field, "The amount must be more than zero."
                                           if not allow_zero else "The amount cannot be "
                                                                  "negative.")])
    if amount > MAX_MAJOR:
        raise ValidationFailed([FieldError(field, f"That is more than {MAX_MAJOR:,} {currency}; "
                                                  "check the amount.")])
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValidationFailed([FieldError(
            field, f"{currency} amounts have {exponent} decimal places at most."
            if exponent else f"{currency} amounts have no decimal places.")])
    return int(minor)


def to_decimal(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-CURRENCIES[currency])


def plain(minor: int, currency: str) -> str:
    """``"3850.00"``: for forms, CSV and the API (a string, so JSON never makes it a float)."""
    exponent = CURRENCIES[currency]
    return f"{to_decimal(minor, currency):.{exponent}f}"


def display(minor: int, currency: str) -> str:
    """``"3,850.00 EUR"``: for people."""
    exponent = CURRENCIES[currency]
    return f"{to_decimal(minor, currency):,.{exponent}f} {currency}"


def share(minor: int, basis_points: int) -> int:
    """``basis_points``/10,000 of an amount, rounded down to the minor unit: the vendor's
    share never pays a fraction of a cent more than agreed."""
    return minor * basis_points // 10_000


def percent_of(minor: int, percent: Decimal) -> int:
    """A percentage (e.g. Decimal("2.5")) of an amount, rounded half up to the minor unit."""
    return int((Decimal(minor) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
