"""Mail delivery: a real SMTP server (aiosmtpd), SMTP that is down, and the outbox without SMTP."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from youworker.models import MailStatus, OutboxMail, User
from youworker.services import mail
from youworker.services.errors import AuthenticationFailed, Forbidden
from youworker.services.password_reset import ResetStatus, inspect, send_reset_link
from youworker.settings import get_settings

BASE_URL = "https://yw.example.com"
LINK = re.compile(re.escape(BASE_URL) + r"/reset/([A-Za-z0-9_-]+)")

MailSettingsSetter = Callable[[int | None], None]


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mail_settings() -> Iterator[MailSettingsSetter]:
    """Point MAIL__* at an SMTP port, or (None) leave SMTP unconfigured; settings are cached."""
    with pytest.MonkeyPatch.context() as patch:

        def configure(port: int | None) -> None:
            patch.setenv("API__PUBLIC_URL", BASE_URL)
            if port is None:
                patch.delenv("MAIL__SMTP_HOST", raising=False)
            else:
                patch.setenv("MAIL__SMTP_HOST", "127.0.0.1")
                patch.setenv("MAIL__SMTP_PORT", str(port))
                patch.setenv("MAIL__SMTP_SECURITY", "none")
                patch.setenv("MAIL__SMTP_TIMEOUT_SECONDS", "5")
                patch.setenv("MAIL__FROM_ADDRESS", "youworker@example.com")
            get_settings.cache_clear()
            assert get_settings().mail.enabled == (port is not None)

        yield configure
    get_settings.cache_clear()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def only_mail(db: AsyncSession) -> OutboxMail:
    rows = list(await db.scalars(select(OutboxMail)))
    assert len(rows) == 1
    return rows[0]


async def test_smtp_delivers_the_link_and_keeps_no_body(
    db: AsyncSession,
    admin: User,
    alice: User,
    smtp_server: tuple[Inbox, int],
    mail_settings: MailSettingsSetter,
) -> None:
    inbox, port = smtp_server
    mail_settings(port)

    sent = await send_reset_link(db, admin, alice.id)

    assert sent.delivery == MailStatus.SENT
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == alice.email
    assert message["From"] == "youworker@example.com"
    assert message["Subject"] == "Reset your YouWorker password"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    found = LINK.search(body.decode())
    assert found is not None, body
    assert (await inspect(db, found.group(1))).status == ResetStatus.VALID

    row = await only_mail(db)
    assert row.status == MailStatus.SENT and row.sent_at is not None and row.error is None
    assert row.body_enc is None
    entry = (await mail.list_outbox(db, admin)).entries[0]
    assert entry.status == "sent" and entry.body is None


async def test_smtp_down_keeps_the_body_and_the_action_succeeds(
    db: AsyncSession, admin: User, alice: User, mail_settings: MailSettingsSetter
) -> None:
    mail_settings(free_port())  # nothing listens there

    sent = await send_reset_link(db, admin, alice.id)

    assert sent.delivery == MailStatus.FAILED
    row = await only_mail(db)
    assert row.status == MailStatus.FAILED and row.sent_at is None
    assert row.error and row.body_enc
    entry = (await mail.list_outbox(db, admin)).entries[0]
    assert entry.status == "failed" and entry.body is not None
    found = LINK.search(entry.body)
    assert found is not None
    assert (await inspect(db, found.group(1))).status == ResetStatus.VALID


async def test_without_smtp_mail_waits_encrypted_in_the_outbox(
    db: AsyncSession, admin: User, alice: User, mail_settings: MailSettingsSetter
) -> None:
    mail_settings(None)

    sent = await send_reset_link(db, admin, alice.id)

    assert sent.delivery == MailStatus.OUTBOX
    row = await only_mail(db)
    assert row.status == MailStatus.OUTBOX and row.recipient == alice.email
    assert row.body_enc is not None
    entry = (await mail.list_outbox(db, admin)).entries[0]
    assert entry.body is not None
    found = LINK.search(entry.body)
    assert found is not None
    assert found.group(1) not in row.body_enc and BASE_URL not in row.body_enc
    assert (await inspect(db, found.group(1))).status == ResetStatus.VALID


async def test_outbox_is_newest_first_and_paginated(
    db: AsyncSession, admin: User, alice: User, bob: User, mail_settings: MailSettingsSetter
) -> None:
    mail_settings(None)
    await send_reset_link(db, admin, alice.id)
    await send_reset_link(db, admin, bob.id)

    first = await mail.list_outbox(db, admin, offset=0, limit=1)
    second = await mail.list_outbox(db, admin, offset=1, limit=1)

    assert first.total == second.total == 2
    assert [e.recipient for e in first.entries + second.entries] == [bob.email, alice.email]


async def test_only_site_admins_read_the_outbox(
    db: AsyncSession, admin: User, alice: User, mail_settings: MailSettingsSetter
) -> None:
    mail_settings(None)
    await send_reset_link(db, admin, alice.id)
    with pytest.raises(Forbidden):
        await mail.list_outbox(db, alice)
    with pytest.raises(AuthenticationFailed):
        await mail.list_outbox(db, None)  # type: ignore[arg-type]
