"""Reading and checking form fields: each check returns a value or raises Invalid with a plain message."""
from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata

from werkzeug.routing import BaseConverter

from ..storage.store import check_person_name

# A row id as the pages write it: ASCII digits, at most 18 of them, so it always fits SQLite's 64-bit
# INTEGER. int() would take "²" or "٣", and 20 digits overflow SQLite: both were 500s, not a plain 404.
_RECORD_ID = re.compile(r"[0-9]{1,18}")


def record_id(raw) -> int | None:
    """A person's or session's number from a form or query field; None unless it is bounded ASCII digits."""
    value = str(raw or "").strip()
    return int(value) if _RECORD_ID.fullmatch(value) else None


class RecordIdConverter(BaseConverter):
    """``<id:person_id>`` in a route: only a bounded ASCII number matches, anything else is a 404."""
    regex = _RECORD_ID.pattern
    part_isolating = True

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


class Invalid(ValueError):
    """A field's value will not do; the message says why and what would, in plain words."""


class Form:
    """The submitted fields, the values read from them and the messages for the ones that will not do."""

    def __init__(self, data):
        self.data = data
        self.values: dict = {}
        self.errors: dict[str, str] = {}

    def read(self, name: str, check, *args, **kwargs):
        try:
            value = check(self.data.get(name, ""), *args, **kwargs)
        except Invalid as exc:
            self.errors[name] = str(exc)
            return None
        self.values[name] = value
        return value

    @property
    def is_valid(self) -> bool:
        return not self.errors


def text(raw, *, label: str, required: bool = False, max_length: int = 100) -> str | None:
    value = " ".join(str(raw or "").split())
    if not value:
        if required:
            raise Invalid(f"Please enter the {label}.")
        return None
    if len(value) > max_length:
        raise Invalid(f"The {label} can have at most {max_length} characters.")
    if any(unicodedata.category(c) in _CONTROL_CATEGORIES for c in value):
        raise Invalid(f"The {label} has characters that cannot be typed.")
    return value


_CONTROL_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}     # controls (C0 and C1), zero-width and format marks


def person_name(raw) -> str:
    """A person's name, by the store's one rule (check_person_name), in the form's words."""
    if not " ".join(str(raw or "").split()):
        raise Invalid("Please enter the name.")
    try:
        return check_person_name(raw)
    except ValueError as exc:
        message = str(exc)
        raise Invalid(f"{message[0].upper()}{message[1:]}.") from None


def number(raw, *, label: str, low: float, high: float, unit: str = "", integer: bool = False):
    value = str(raw or "").strip().replace(",", ".")
    if not value:
        return None
    try:
        parsed = int(value) if integer else float(value)
    except ValueError:
        example = f"{int(low + (high - low) / 2)}" if integer else f"{(low + high) / 2:g}"
        raise Invalid(f"The {label} must be a {'whole ' if integer else ''}number, like {example}.") from None
    if isinstance(parsed, float) and not math.isfinite(parsed):
        raise Invalid(f"The {label} must be a number.")
    if not low <= parsed <= high:
        raise Invalid(f"The {label} must be between {low:g} and {high:g}{(' ' + unit) if unit else ''}.")
    return parsed


def required_number(raw, **kwargs):
    value = number(raw, **kwargs)
    if value is None:
        raise Invalid(f"Please enter the {kwargs['label']}.")
    return value


def yes_no_unknown(raw, *, label: str) -> int | None:
    value = str(raw or "").strip().lower()
    if value in ("", "unknown"):
        return None
    if value in ("yes", "no"):
        return int(value == "yes")
    raise Invalid(f"Choose Yes, No or Not known for {label}.")


def choice(raw, *, label: str, options) -> str:
    value = str(raw or "").strip()
    if value not in options:
        raise Invalid(f"Choose one of: {', '.join(options)} for the {label}.")
    return value


_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def partial_date(raw, *, label: str, today: dt.date) -> str:
    """A date as precise as known: 2019, 2019-04 or 2019-04-12 (not in the future); returned normalised."""
    value = str(raw or "").strip()
    if not value:
        raise Invalid(f"Please enter the {label}: a year (2019), a month (2019-04) or a day (2019-04-12).")
    match = _PARTIAL_DATE.match(value)
    if not match:
        raise Invalid(f"Write the {label} as a year (2019), a month (2019-04) or a day (2019-04-12).")
    year, month, day = match.groups()
    try:
        first = dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise Invalid(f"The {label} {value} is not a real date.") from None
    if first.year < 1900 or first > today:
        raise Invalid(f"The {label} must be between 1900 and today.")
    return "-".join([year] + ([f"{int(month):02d}"] if month else []) + ([f"{int(day):02d}"] if day else []))


def pin(raw) -> str:
    value = str(raw or "").strip()
    if not re.fullmatch(r"\d{4,8}", value):
        raise Invalid("The clinician PIN is 4 to 8 digits.")
    return value
