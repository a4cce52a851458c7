"""Input rules shared by every path that accepts account data."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from youworker.models.user import EMAIL_MAX, NAME_MAX
from youworker.services.errors import ValidationFailed

PASSWORD_MIN = 10
PASSWORD_MAX = 256
API_KEY_NAME_MAX = NAME_MAX


def email_problem(raw: str) -> str | None:
    email = raw.strip()
    if not email:
        return "Email is required."
    if len(email) > EMAIL_MAX:
        return f"Email must be at most {EMAIL_MAX} characters."
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"Enter a valid email address: {exc}"
    return None


def normalize_email(raw: str) -> str:
    """The stored form: trimmed and lower-cased, so uniqueness ignores case."""
    return raw.strip().lower()


def password_problem(password: str, field_label: str = "Password") -> str | None:
    if not password:
        return f"{field_label} is required."
    if len(password) < PASSWORD_MIN:
        return f"{field_label} must be at least {PASSWORD_MIN} characters."
    if len(password) > PASSWORD_MAX:
        return f"{field_label} must be at most {PASSWORD_MAX} characters."
    return None


def name_problem(raw: str, field_label: str = "Display name", limit: int = NAME_MAX) -> str | None:
    name = raw.strip()
    if not name:
        return f"{field_label} is required."
    if len(name) > limit:
        return f"{field_label} must be at most {limit} characters."
    if any(ord(char) < 32 for char in name):
        return f"{field_label} cannot contain control characters."
    return None


def raise_if_any(problems: dict[str, str | None]) -> None:
    """Raise one ValidationFailed naming every field that was wrong."""
    fields = {name: message for name, message in problems.items() if message}
    if fields:
        raise ValidationFailed(fields)
