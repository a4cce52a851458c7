"""The Reflex app: pages, theme and the HTTP routes mounted through api_transformer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import reflex as rx

from youworker.api.app import create_api
from youworker.logging import configure_logging
from youworker.pages.account import account_page
from youworker.pages.admin import admin_page
from youworker.pages.admin_tools import admin_tools_page
from youworker.pages.auth import login_page, register_page
from youworker.pages.chat import chat_page
from youworker.pages.document_view import document_view_page
from youworker.pages.documents import documents_page
from youworker.pages.placeholders import groups_page, index_page
from youworker.services import runtime
from youworker.settings import get_settings
from youworker.state.account import AccountState
from youworker.state.admin import AdminState
from youworker.state.admin_tools import AdminToolsState
from youworker.state.auth import LoginState, RegisterState
from youworker.state.chat import ChatState
from youworker.state.document_view import DocumentViewState
from youworker.state.documents import DocumentsState
from youworker.state.session import SessionState

_settings = get_settings()
configure_logging(_settings.api.log_level, json=_settings.is_production)


@contextlib.asynccontextmanager
async def lifespan() -> AsyncIterator[None]:
    """Provider probes, MCP servers and answer bookkeeping live as long as the backend."""
    await runtime.start()
    try:
        yield
    finally:
        await runtime.stop()


app = rx.App(api_transformer=create_api())
app.register_lifespan_task(lifespan)
app.add_page(index_page, route="/", title="YouWorker", on_load=SessionState.redirect_home)
app.add_page(
    login_page,
    route="/login",
    title="Sign in · YouWorker",
    on_load=LoginState.check_already_signed_in,
)
app.add_page(
    register_page, route="/register", title="Register · YouWorker", on_load=RegisterState.load
)
app.add_page(chat_page, route="/chat", title="Chat · YouWorker", on_load=ChatState.load)
app.add_page(chat_page, route="/chat/[cid]", title="Chat · YouWorker", on_load=ChatState.load)
app.add_page(
    documents_page, route="/documents", title="Documents · YouWorker", on_load=DocumentsState.load
)
app.add_page(
    document_view_page,
    route="/documents/[did]",
    title="Document · YouWorker",
    on_load=DocumentViewState.load,
)
app.add_page(
    groups_page, route="/groups", title="Groups · YouWorker", on_load=SessionState.require_user
)
app.add_page(account_page, route="/account", title="Account · YouWorker", on_load=AccountState.load)
app.add_page(admin_page, route="/admin", title="Admin · YouWorker", on_load=AdminState.load)
app.add_page(
    admin_tools_page,
    route="/admin/tools",
    title="Tools · Admin · YouWorker",
    on_load=AdminToolsState.load,
)
