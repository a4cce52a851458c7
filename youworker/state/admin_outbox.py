"""Admin outbox: the mail this installation kept, sent or failed to send."""

from __future__ import annotations

from youworker.db import session_scope
from youworker.models import User
from youworker.services import mail
from youworker.settings import get_settings
from youworker.state.admin_list import PAGE_SIZE, PagedList
from youworker.state.session import SessionState
from youworker.state.times import iso_utc


def outbox_row(entry: mail.OutboxEntry) -> dict[str, str]:
    """One mail as the page shows it. "link" (shown and copied) is the mail's own link field,
    never a URL found in the body, where a display or group name could have put one."""
    return {
        "id": str(entry.id),
        "recipient": entry.recipient,
        "subject": entry.subject,
        "kind": entry.kind,
        "status": entry.status,
        "time": iso_utc(entry.created_at),
        "body": entry.body or "",
        "link": entry.link or "",
        "error": entry.error or "",
    }


class AdminOutboxState(PagedList, SessionState):
    mails: list[dict[str, str]] = []
    smtp_enabled: bool = False
    smtp_server: str = ""

    def _forget_page(self) -> None:
        self.mails = []

    async def _reload(self, actor: User) -> None:
        settings = get_settings().mail
        self.smtp_enabled = settings.enabled
        self.smtp_server = f"{settings.smtp_host}:{settings.smtp_port}" if settings.enabled else ""
        async with session_scope() as db:
            result = await mail.list_outbox(
                db, actor, offset=self.page * PAGE_SIZE, limit=PAGE_SIZE
            )
        self.total = result.total
        self.mails = [outbox_row(entry) for entry in result.entries]
