"""Every page of the app in one table: its route, component, title and on_load handlers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx

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

APP_NAME = "YouWorker"


@dataclass(frozen=True)
class Page:
    route: str
    component: Callable[[], rx.Component]
    title: str  # shown before " · YouWorker"; empty for the app's name alone
    on_load: Any  # one event handler, or a list of them (Reflex's own type)

    @property
    def full_title(self) -> str:
        return f"{self.title} · {APP_NAME}" if self.title else APP_NAME


PAGES: Sequence[Page] = (
    Page("/", index_page, "", SessionState.redirect_home),
    Page("/login", login_page, "Sign in", LoginState.check_already_signed_in),
    Page("/register", register_page, "Register", RegisterState.load),
    Page("/reset/[token]", password_reset_page, "Reset password", PasswordResetState.load),
    Page("/invite/[token]", invite_page, "Invitation", InviteState.load),
    Page("/chat", chat_page, "Chat", ChatState.load),
    Page("/chat/[cid]", chat_page, "Chat", ChatState.load),
    Page(
        "/documents",
        documents_page,
        "Documents",
        [DocumentsState.load, CollectionsState.load_collections],
    ),
    Page("/documents/[did]", document_view_page, "Document", DocumentViewState.load),
    Page("/groups", groups_page, "Groups", GroupsState.load),
    Page("/groups/[gid]", group_page, "Group", GroupState.load),
    Page("/shared", shared_page, "Shared with me", SharedListState.load),
    Page(
        "/shared/[cid]",
        shared_conversation_page,
        "Shared conversation",
        SharedConversationState.load,
    ),
    Page("/account", account_page, "Account", AccountState.load),
    Page("/admin", admin_page, "Admin", AdminState.load),
    Page("/admin/tools", admin_tools_page, "Tools · Admin", AdminToolsState.load),
    Page("/admin/outbox", admin_outbox_page, "Outbox · Admin", AdminOutboxState.load),
    Page("/admin/audit", admin_audit_page, "Audit log · Admin", AdminAuditState.load),
    Page("/admin/system", admin_system_page, "System · Admin", AdminSystemState.load),
    Page("/admin/groups", admin_groups_page, "Groups · Admin", AdminGroupsState.load),
    Page("/admin/analytics", admin_analytics_page, "Analytics · Admin", AdminAnalyticsState.load),
    Page(
        "/admin/analytics/users",
        admin_usage_page,
        "Usage per user · Admin",
        AdminUsageState.load,
    ),
)


def add_pages(app: rx.App) -> None:
    for page in PAGES:
        app.add_page(page.component, route=page.route, title=page.full_title, on_load=page.on_load)
