"""Sending mail: over SMTP when it is configured, else into the outbox administrators read.

Either way the mail is recorded, so a fresh install without SMTP still delivers invitations and
password resets (an administrator passes the link on). Sent mail keeps no body: it carries
single-use links. A body waiting in the outbox is encrypted like chat messages.

A mail's one link travels in its own field (kept encrypted beside the body for the outbox), so
nothing ever has to guess it from the text; names people chose (display names, group names) go
into bodies and subjects only through `quoted_name`, which leaves nothing a mail client or the
outbox could take for a link.
"""

from __future__ import annotations

import re
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.logging import get_logger
from youworker.models import MailStatus, OutboxMail, User
from youworker.models.base import utcnow
from youworker.services.authz import require_site_admin
from youworker.services.encryption import get_cipher
from youworker.settings import MailSettings, get_settings

log = get_logger(__name__)

PAGE_SIZE_MAX = 100
QUOTED_NAME_MAX = 120
# A word a mail client could turn into a link: a scheme, "www.", a domain-like "x.yz", an address.
_LINKISH = re.compile(r"\S*(?:[a-z][a-z0-9+.-]*:(?=\S)|www\.|[\w-]\.[a-z]{2,}|@)\S*", re.IGNORECASE)
_IDEOGRAPHIC_STOPS = str.maketrans({"\u3002": ".", "\uff61": "."})
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):(?=\S)", re.IGNORECASE)


def _defang(word: re.Match[str]) -> str:
    text = re.sub(r"(?i)http", "hxxp", word.group(0))
    text = _SCHEME.sub(r"\1[:]", text)
    return text.replace(".", "[.]").replace("@", "[at]")


def quoted_name(raw: str) -> str:
    """A user-chosen name, safe inside a mail: one line, quoted, no link text left in it.

    `Mallory https://evil.example/invite/x` becomes `"Mallory hxxps[:]//evil[.]example/invite/x"`.
    """
    # NFKC folds look-alikes (fullwidth letters and dots); browsers read these two stops as dots.
    text = unicodedata.normalize("NFKC", raw).translate(_IDEOGRAPHIC_STOPS)
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(text) > QUOTED_NAME_MAX:
        text = text[: QUOTED_NAME_MAX - 1] + "…"
    text = _LINKISH.sub(_defang, text).replace('"', "'")
    return f'"{text}"'


@dataclass(frozen=True)
class Mail:
    recipient: str
    subject: str
    body: str
    kind: str  # "invitation", "password_reset", ...
    # The mail's one link (also in the body); the outbox shows and copies this, never the body.
    link: str = ""


@dataclass(frozen=True)
class OutboxEntry:
    id: uuid.UUID
    recipient: str
    subject: str
    kind: str
    status: str
    body: str | None
    link: str | None
    error: str | None
    created_at: datetime


@dataclass(frozen=True)
class OutboxPage:
    entries: list[OutboxEntry]
    total: int


def _message(mail: Mail, settings: MailSettings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message.set_content(mail.body)
    return message


async def _send_smtp(mail: Mail, settings: MailSettings) -> None:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    await aiosmtplib.send(
        _message(mail, settings),
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=password if settings.smtp_username else None,
        use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls",
        timeout=settings.smtp_timeout_seconds,
    )


def _keep_body(record: OutboxMail, mail: Mail) -> None:
    cipher = get_cipher()
    record.body_enc = cipher.encrypt(mail.body)
    record.link_enc = cipher.encrypt(mail.link) if mail.link else None


async def deliver(session: AsyncSession, mail: Mail) -> OutboxMail:
    """Send `mail` (or keep it in the outbox) and record it; the caller commits.

    An SMTP failure is recorded with the body kept, so an administrator can still pass it on;
    it never fails the action that sent the mail.
    """
    settings = get_settings().mail
    record = OutboxMail(recipient=mail.recipient, subject=mail.subject[:200], kind=mail.kind)
    if settings.enabled:
        started = time.perf_counter()
        try:
            await _send_smtp(mail, settings)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            record.status = MailStatus.FAILED
            record.error = f"{exc.__class__.__name__}: {exc}"[:500]
            _keep_body(record, mail)
            log.warning("mail.failed", kind=mail.kind, error=record.error)
        else:
            record.status = MailStatus.SENT
            record.sent_at = utcnow()
            log.info(
                "mail.sent",
                kind=mail.kind,
                duration_ms=round((time.perf_counter() - started) * 1000),
            )
    else:
        _keep_body(record, mail)
        log.info("mail.outbox", kind=mail.kind)
    session.add(record)
    return record


async def list_outbox(
    session: AsyncSession, actor: User, *, offset: int = 0, limit: int = 25
) -> OutboxPage:
    """Newest first. Site administrators only: bodies carry invitation and reset links."""
    require_site_admin(actor)
    limit = max(1, min(limit, PAGE_SIZE_MAX))
    rows = await session.scalars(
        select(OutboxMail)
        .order_by(col(OutboxMail.created_at).desc(), col(OutboxMail.id))
        .offset(max(0, offset))
        .limit(limit)
    )
    total = int(await session.scalar(select(func.count()).select_from(OutboxMail)) or 0)
    cipher = get_cipher()
    entries = [
        OutboxEntry(
            id=row.id,
            recipient=row.recipient,
            subject=row.subject,
            kind=row.kind,
            status=row.status,
            body=cipher.readable_optional(row.body_enc),
            link=cipher.readable_optional(row.link_enc),
            error=row.error,
            created_at=row.created_at,
        )
        for row in rows
    ]
    return OutboxPage(entries=entries, total=total)
