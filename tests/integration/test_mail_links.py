"""Mail links: an invitation mail leaves only once its link works, and names cannot fake links."""

from __future__ import annotations

import re
from email.message import Message

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from tests.integration.test_mail import (
    Inbox,
    MailSettingsSetter,
    free_port,
    mail_settings,
    smtp_server,
)
from youworker.db import sync_url
from youworker.models import OutboxMail, User
from youworker.services import accounts, groups, invitations, mail, password_reset
from youworker.services.hashing import token_digest
from youworker.state.admin_outbox import outbox_row

__all__ = ["mail_settings", "smtp_server"]
BASE_URL = "https://yw.example.com"


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


class CommitWitness(Inbox):
    """An SMTP server that, while it receives a mail, looks for the invitation from outside."""

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.database_url = database_url
        self.committed_when_sent: list[bool] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        token = body_of(self.messages[-1]).split("/invite/")[1].split()[0]
        engine = create_engine(sync_url(self.database_url))
        try:
            with engine.connect() as conn:
                found = conn.execute(
                    text("SELECT count(*) FROM group_invitations WHERE token_hash = :h"),
                    {"h": token_digest(token)},
                ).scalar_one()
        finally:
            engine.dispose()
        self.committed_when_sent.append(found == 1)
        return answer


async def test_the_invitation_is_committed_before_its_mail_leaves(
    db: AsyncSession, alice: User, database_url: str, mail_settings: MailSettingsSetter
) -> None:
    from aiosmtpd.controller import Controller

    witness = CommitWitness(database_url)
    port = free_port()
    controller = Controller(witness, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail_settings(port)
        group = await groups.create_group(db, alice, "Team")
        sent = await invitations.invite(db, alice, "bob@example.com", group.id)
    finally:
        controller.stop()
    assert sent.delivered_by == "sent"
    assert witness.committed_when_sent == [True]


# --- names cannot fake links (item 4) ------------------------------------------------------------

SPOOF = "https://evil.example/invite/steal"
LINKISH = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S+|\b[\w-]+\.(?:example|com)\b")


def links_in(text: str) -> list[str]:
    """What a mail client would turn into a link (schemes, www., bare domains)."""
    return LINKISH.findall(text)


async def test_invitation_mail_names_cannot_carry_a_link(
    db: AsyncSession,
    admin: User,
    alice: User,
    smtp_server: tuple[Inbox, int],
    mail_settings: MailSettingsSetter,
) -> None:
    inbox, port = smtp_server
    mail_settings(port)
    await accounts.update_profile(db, alice, display_name=f"Alice {SPOOF} www.evil.example")
    group = await groups.create_group(db, alice, f"Team {SPOOF} Open: evil.example")
    await invitations.invite(db, alice, "bob@example.com", group.id)
    await password_reset.send_reset_link(db, admin, alice.id)

    invitation, reset = inbox.messages
    for message, path in ((invitation, "/invite/"), (reset, "/reset/")):
        body = body_of(message)
        (link,) = links_in(body)
        assert link.startswith(f"{BASE_URL}{path}")
        assert "evil.example" not in body and "http" not in body.replace(link, "")
        assert "evil[.]example" in body  # the name is still there, made inert
        assert not links_in(str(message["Subject"]))
    assert '"Alice hxxps[:]//evil[.]example/invite/steal www[.]evil[.]example"' in body_of(
        invitation
    )


async def test_the_outbox_link_is_the_mails_own_link(
    db: AsyncSession, admin: User, alice: User, mail_settings: MailSettingsSetter
) -> None:
    mail_settings(None)
    await accounts.update_profile(db, alice, display_name=f"Alice {SPOOF}")
    group = await groups.create_group(db, alice, f"Team {SPOOF}")
    await invitations.invite(db, alice, "bob@example.com", group.id)

    (entry,) = (await mail.list_outbox(db, admin)).entries
    assert entry.link is not None and entry.link.startswith(f"{BASE_URL}/invite/")
    assert entry.body is not None and entry.link in entry.body
    assert (await invitations.lookup(db, entry.link.rsplit("/", 1)[1])).state == "valid"
    # The link is stored encrypted in its own column, like the body.
    row = await db.scalar(select(OutboxMail))
    assert row is not None and row.link_enc and entry.link not in row.link_enc
    # The outbox page shows and copies that field.
    assert outbox_row(entry)["link"] == entry.link
