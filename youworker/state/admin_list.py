"""The admin lists' paging and search: one mixin for users, groups and the outbox."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx
from reflex.event import EventSpec

from youworker.models import User
from youworker.services.errors import ServiceError
from youworker.state.guards import AdminPage, site_admin_view

PAGE_SIZE = 20


class PagedList(AdminPage, mixin=True):
    """A page of an admin list and the page count. A page fills `_reload`."""

    total: int = 0
    page: int = 0

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    async def _reload(self, actor: User) -> None:
        raise NotImplementedError

    async def _show(self, actor: User, page: int) -> EventSpec | None:
        self.page = max(0, min(page, self.page_count - 1))
        try:
            await self._reload(actor)
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        if self.page >= self.page_count:  # the list shrank since the page count was known
            self.page = self.page_count - 1
            await self._reload(actor)
        return None

    @rx.event
    @site_admin_view
    async def load(self, actor: User) -> EventSpec | None:
        return await self._show(actor, 0)

    @rx.event
    @site_admin_view
    async def go_to_page(self, actor: User, page: int) -> EventSpec | None:
        return await self._show(actor, int(page))


class SearchableList(PagedList, mixin=True):
    """A paged admin list with a search box."""

    # Longest search text kept (an email address is up to 254 characters).
    query_max_chars: ClassVar[int] = 100
    query: str = ""

    @rx.event
    @site_admin_view
    async def search(self, actor: User, query: str) -> EventSpec | None:
        self.query = query[: self.query_max_chars]
        return await self._show(actor, 0)
