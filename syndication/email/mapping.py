"""Which file column goes to which contact field: guessed from the header, confirmed by the
partner, then applied to every row.

Headers are matched after folding case, accents and punctuation away, in the languages
partners' spreadsheets come in ("E-Mail", "First Name", "Firma", "Prénom", "Teléfono"...).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from syndication.email.fields import LABELS, ContactValues, clean
from tcma.errors import FieldError

CUSTOM = "custom"
#: (field, label) in the order the mapping page offers them.
FIELDS: tuple[tuple[str, str], ...] = (
    ("email", "Email"), ("first_name", "First name"), ("last_name", "Last name"),
    ("full_name", "Full name (split into first and last)"), ("company", "Company"),
    ("job_title", "Job title"), ("phone", "Phone"), ("country", "Country"),
    ("language", "Language"), ("tags", "Tags (separated by , ; or |)"),
    ("consent_source", "Consent source"), ("consent_date", "Consent date"),
    ("consent_text", "Consent text"), ("unsubscribed", "Unsubscribed (yes/no)"),
)
FIELD_NAMES = {name for name, _ in FIELDS}

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "mail", "emailadresse", "mailadresse", "courriel",
              "adresseemail", "adressemail", "correo", "correoelectronico", "epost",
              "posta", "postaelettronica", "emailadres", "workemail", "businessemail"),
    "first_name": ("firstname", "first", "givenname", "forename", "fname", "vorname",
                   "prenom", "nombre", "voornaam", "nome", "primeironome"),
    "last_name": ("lastname", "last", "surname", "familyname", "lname", "nachname", "nom",
                  "apellido", "apellidos", "achternaam", "cognome", "sobrenome",
                  "nomdefamille"),
    "full_name": ("name", "fullname", "contactname", "contact", "nomcomplet",
                  "nombrecompleto", "vollername"),
    "company": ("company", "companyname", "organization", "organisation", "organizationname",
                "account", "accountname", "firma", "firmenname", "unternehmen", "societe",
                "entreprise", "empresa", "bedrijf", "azienda", "employer"),
    "job_title": ("jobtitle", "title", "position", "role", "jobrole", "designation",
                  "funktion", "berufsbezeichnung", "titre", "poste", "fonction", "cargo",
                  "puesto", "functie", "ruolo"),
    "phone": ("phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone",
              "mobilenumber", "cell", "cellphone", "workphone", "businessphone", "telefon",
              "telefonnummer", "handy", "telefono", "telefoon", "telemovel"),
    "country": ("country", "countrycode", "land", "pays", "pais", "paese", "nation"),
    "language": ("language", "lang", "locale", "preferredlanguage", "sprache", "langue",
                 "idioma", "lingua", "taal"),
    "tags": ("tags", "tag", "labels", "label", "schlagworte", "etiquettes", "etiquetas"),
    "consent_source": ("consentsource", "source", "leadsource", "optinsource", "quelle",
                       "einwilligungsquelle", "herkunft", "origine", "origen", "bron"),
    "consent_date": ("consentdate", "optindate", "consentedat", "consentgivenat",
                     "subscribedat", "subscriptiondate", "signupdate", "optin",
                     "einwilligungsdatum", "datumeinwilligung", "dateconsentement",
                     "fechaconsentimiento"),
    "consent_text": ("consenttext", "optintext", "consentwording", "consentstatement"),
    "unsubscribed": ("unsubscribed", "optout", "optedout", "emailoptout", "unsubscribe",
                     "donotemail", "abgemeldet", "desinscrit", "bajausuario"),
}
_LOOKUP = {alias: name for name, aliases in _SYNONYMS.items() for alias in aliases}


def fold(header: str) -> str:
    """'E-Mail-Adresse' -> 'emailadresse', 'Prénom' -> 'prenom'."""
    text = unicodedata.normalize("NFKD", header or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return "".join(c for c in text.replace("ß", "ss") if c.isalnum())


def guess(columns: list[str]) -> dict[str, str]:
    """{column index: field} for the columns recognised by name (each field once)."""
    mapping: dict[str, str] = {}
    for index, column in enumerate(columns):
        field = _LOOKUP.get(fold(column))
        if field and field not in mapping.values():
            mapping[str(index)] = field
    return mapping


def field_label(value: str) -> str:
    if value.startswith(f"{CUSTOM}:"):
        return f"Own field {value.split(':', 1)[1]}"
    return dict(FIELDS).get(value) or LABELS.get(value, value)


def check(mapping: dict[str, str], columns: list[str], *, consent_source: bool,
          consent_date: bool) -> list[FieldError]:
    """What is wrong with a mapping, given whether the whole file has a consent source and
    date of its own."""
    errors: list[FieldError] = []
    seen: dict[str, str] = {}
    for index, field in mapping.items():
        if not index.isdigit() or int(index) >= len(columns):
            errors.append(FieldError("mapping", f"There is no column {index}."))
            continue
        if not (field in FIELD_NAMES or field.startswith(f"{CUSTOM}:")):
            errors.append(FieldError(f"column-{index}", f"Unknown field {field!r}."))
            continue
        if field in seen:
            errors.append(FieldError(f"column-{index}", f"{field_label(field)} is already "
                                                        f"taken by column {seen[field]}."))
        seen[field] = columns[int(index)]
    fields = set(mapping.values())
    if "email" not in fields:
        errors.append(FieldError("mapping", "Choose the column that holds the email address."))
    if "full_name" in fields and fields & {"first_name", "last_name"}:
        errors.append(FieldError("mapping", "Map either a full name or first and last names, "
                                            "not both."))
    if sum(1 for f in fields if f.startswith(f"{CUSTOM}:")) > 25:
        errors.append(FieldError("mapping", "At most 25 columns can be kept as own fields."))
    has_source = consent_source or "consent_source" in fields
    has_date = consent_date or "consent_date" in fields
    if not (has_source and has_date):
        errors.append(FieldError(
            "consent_source" if not has_source else "consent_date",
            "Every contact needs a consent source and date: give them for the whole file, or "
            "choose the columns that hold them."))
    return errors


@dataclass(frozen=True)
class RowSpec:
    """Everything needed to turn one file row into contact values (plain data, picklable)."""

    mapping: tuple[tuple[int, str], ...]
    columns: tuple[str, ...]
    tags: tuple[str, ...]
    consent_source: str | None
    consent_at: datetime | None
    consent_text: str | None
    date_order: str



@dataclass
class ParsedRow:
    values: ContactValues | None  # None: skipped
    errors: list[FieldError]  # why it was skipped
    warnings: list[FieldError]  # imported without these values


def _split_name(full: str) -> tuple[str, str]:
    full = " ".join(full.split())
    if "," in full:  # "Doe, Jane"
        last, _, first = full.partition(",")
        return first.strip(), last.strip()
    first, _, last = full.partition(" ")
    return first, last


def parse_row(cells: list[str], spec: RowSpec) -> ParsedRow | None:
    """One file row as contact values, or None for a blank row."""
    if not any(c.strip() for c in cells):
        return None
    raw: dict[str, str] = {}
    custom: dict[str, str] = {}
    for index, field in spec.mapping:
        value = cells[index] if index < len(cells) else ""
        if field.startswith(f"{CUSTOM}:"):
            custom[field.split(":", 1)[1]] = value
        elif field == "full_name":
            raw["first_name"], raw["last_name"] = _split_name(value)
        else:
            raw[field] = value
    raw["tags"] = ",".join([*spec.tags, raw.get("tags", "")])
    if not (raw.get("consent_source") or "").strip() and spec.consent_source:
        raw["consent_source"] = spec.consent_source
    if not (raw.get("consent_date") or "").strip() and spec.consent_at:
        raw["consent_date"] = spec.consent_at  # type: ignore[assignment]
    if not (raw.get("consent_text") or "").strip() and spec.consent_text:
        raw["consent_text"] = spec.consent_text
    cleaned = clean(raw, custom=custom, date_order=spec.date_order, lenient=True)
    return ParsedRow(cleaned.values, cleaned.errors, cleaned.warnings)
