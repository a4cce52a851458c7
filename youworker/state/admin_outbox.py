"""Admin outbox: the mail this installation kept, sent or failed to send."""

from __future__ import annotations

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import User
from youworker.services import mail
from youworker.services.errors import AuthenticationFailed, Forbidden
from youworker.settings import get_settings
from youworker.state.session import SessionState
from youworker.state.times import iso_utc

PAGE_SIZE = 20


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


class AdminOutboxState(SessionState):
    access_denied: bool = False
    mails: list[dict[str, str]] = []
    total: int = 0
    page: int = 0
    smtp_enabled: bool = False
    smtp_server: str = ""

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    async def _guarded(self) -> tuple[User | None, EventSpec | None]:
        user = await self._authenticate()
        self.access_denied = user is not None and not self.is_admin
        if user is None:
            return None, self._to_sign_in()
        return (user, None) if self.is_admin else (None, None)

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

    async def _show(self, page: int) -> EventSpec | None:
        actor, redirect = await self._guarded()
        if actor is None:
            self.mails = []
            return redirect
        self.page = max(0, page)
        try:
            await self._reload(actor)
        except (AuthenticationFailed, Forbidden) as exc:
            return rx.toast.error(exc.message)
        if self.page >= self.page_count:
            self.page = self.page_count - 1
            await self._reload(actor)
        return None

    @rx.event
    async def load(self) -> EventSpec | None:
        return await self._show(0)

    @rx.event
    async def go_to_page(self, page: int) -> EventSpec | None:
        return await self._show(int(page))
