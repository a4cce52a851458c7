"""The Reflex app: pages, theme and the HTTP routes mounted through api_transformer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import reflex as rx

from youworker.api.app import create_api
from youworker.api.middleware import asgi_middleware, guard_socketio
from youworker.logging import configure_logging
from youworker.pages.account import account_page
from youworker.pages.admin import admin_page
from youworker.pages.admin_analytics import admin_analytics_page, admin_usage_page
from youworker.pages.admin_audit import admin_audit_page
from youworker.pages.admin_groups import admin_groups_page
from youworker.pages.admin_outbox import admin_outbox_page
from youworker.pages.admin_system import admin_system_page
from youworker.pages.admin_tools import admin_tools_page
from youworker.pages.auth import login_page, register_page
from youworker.pages.chat import chat_page
from youworker.pages.document_view import document_view_page
from youworker.pages.documents import documents_page
from youworker.pages.groups import group_page, groups_page
from youworker.pages.index import index_page
from youworker.pages.invite import invite_page
from youworker.pages.password_reset import password_reset_page
from youworker.pages.shared import shared_conversation_page, shared_page
from youworker.private_files import make_private
from youworker.services import runtime
from youworker.settings import get_settings
from youworker.state.account import AccountState
from youworker.state.admin import AdminState
from youworker.state.admin_analytics import AdminAnalyticsState, AdminUsageState
from youworker.state.admin_audit import AdminAuditState
from youworker.state.admin_groups import AdminGroupsState
from youworker.state.admin_outbox import AdminOutboxState
from youworker.state.admin_system import AdminSystemState
from youworker.state.admin_tools import AdminToolsState
from youworker.state.auth import LoginState, RegisterState
from youworker.state.chat import ChatState
from youworker.state.document_collections import CollectionsState
from youworker.state.document_view import DocumentViewState
from youworker.state.documents import DocumentsState
from youworker.state.groups import GroupsState, GroupState
from youworker.state.invite import InviteState
from youworker.state.password_reset import PasswordResetState
from youworker.state.session import SessionState
from youworker.state.shared import SharedConversationState, SharedListState
from youworker.state.store import sealed
from youworker.state.tab_guard import TabOwner, TabSessionGuard

_settings = get_settings()
configure_logging(_settings.api.log_level, json=_settings.is_production)
# Before any worker writes: the database, uploads and vectors are created private (0600/0700).
make_private(_settings)


@contextlib.asynccontextmanager
async def lifespan() -> AsyncIterator[None]:
    """Provider probes, MCP servers and answer bookkeeping live as long as the backend."""
    await runtime.start()
    try:
        yield
    finally:
        await runtime.stop()


tab_owner = TabOwner()
# a11y.css: contrast and focus fixes over Radix Themes (WCAG AA in light and dark mode).
app = rx.App(
    api_transformer=[create_api(), *asgi_middleware(tab_owner=tab_owner)],
    stylesheets=["/a11y.css"],
)
# Reflex built its state manager from rxconfig; with Redis, ours seals what it stores.
app._state_manager = sealed(app.state_manager)
tab_owner.app = app
# First of all middleware, before Reflex's hydrate answers a page load with the whole state.
app.add_middleware(TabSessionGuard(), index=0)
guard_socketio(app.sio)
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
    documents_page,
    route="/documents",
    title="Documents · YouWorker",
    on_load=[DocumentsState.load, CollectionsState.load_collections],
)
app.add_page(
    document_view_page,
    route="/documents/[did]",
    title="Document · YouWorker",
    on_load=DocumentViewState.load,
)
app.add_page(groups_page, route="/groups", title="Groups · YouWorker", on_load=GroupsState.load)
app.add_page(group_page, route="/groups/[gid]", title="Group · YouWorker", on_load=GroupState.load)
app.add_page(
    invite_page, route="/invite/[token]", title="Invitation · YouWorker", on_load=InviteState.load
)
app.add_page(account_page, route="/account", title="Account · YouWorker", on_load=AccountState.load)
app.add_page(admin_page, route="/admin", title="Admin · YouWorker", on_load=AdminState.load)
app.add_page(
    admin_tools_page,
    route="/admin/tools",
    title="Tools · Admin · YouWorker",
    on_load=AdminToolsState.load,
)
app.add_page(
    password_reset_page,
    route="/reset/[token]",
    title="Reset password · YouWorker",
    on_load=PasswordResetState.load,
)
app.add_page(
    admin_outbox_page,
    route="/admin/outbox",
    title="Outbox · Admin · YouWorker",
    on_load=AdminOutboxState.load,
)
app.add_page(
    admin_audit_page,
    route="/admin/audit",
    title="Audit log · Admin · YouWorker",
    on_load=AdminAuditState.load,
)
app.add_page(
    admin_system_page,
    route="/admin/system",
    title="System · Admin · YouWorker",
    on_load=AdminSystemState.load,
)
app.add_page(
    admin_groups_page,
    route="/admin/groups",
    title="Groups · Admin · YouWorker",
    on_load=AdminGroupsState.load,
)
app.add_page(
    admin_analytics_page,
    route="/admin/analytics",
    title="Analytics · Admin · YouWorker",
    on_load=AdminAnalyticsState.load,
)
app.add_page(
    admin_usage_page,
    route="/admin/analytics/users",
    title="Usage per user · Admin · YouWorker",
    on_load=AdminUsageState.load,
)
app.add_page(
    shared_page, route="/shared", title="Shared with me · YouWorker", on_load=SharedListState.load
)
app.add_page(
    shared_conversation_page,
    route="/shared/[cid]",
    title="Shared conversation · YouWorker",
    on_load=SharedConversationState.load,
)
