"""Mail links: an invitation mail leaves only once its link works, and names cannot fake links."""

from __future__ import annotations

from email.message import Message

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.test_mail import (
    Inbox,
    MailSettingsSetter,
    free_port,
    mail_settings,
)
from youworker.db import sync_url
from youworker.models import User
from youworker.services import groups, invitations
from youworker.services.crypto import token_digest

__all__ = ["mail_settings"]
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
