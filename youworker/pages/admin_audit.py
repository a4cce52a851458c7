"""Admin: the audit log with filters, keyset paging and CSV export."""

from __future__ import annotations

import reflex as rx

from youworker.components.audit_table import audit_table
from youworker.components.download import download_link
from youworker.components.forms import submit_button
from youworker.components.layout import admin_tabs, app_shell, field_error
from youworker.services.audit.trail import action_choices
from youworker.state.admin_audit import ALL_ACTIONS, AdminAuditState


def _field(label: str, control: rx.Component, error_key: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", weight="medium"),
        control,
        field_error(AdminAuditState.errors.get(error_key, "")),
        spacing="1",
    )


def _text_input(
    name: str, value: rx.Var[str], setter: rx.EventHandler, hint: str, label: str
) -> rx.Component:
    return rx.input(
        name=name,
        aria_label=label,
        value=value,
        on_change=setter,
        placeholder=hint,
        max_length=300,
        size="1",
        width="12rem",
        data_testid=f"audit-filter-{name}",
    )


def _action_select() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder="All actions", width="12rem", aria_label="Action"),
        rx.select.content(
            rx.select.item("All actions", value=ALL_ACTIONS),
            *[
                rx.select.item(f"{choice}*" if choice.endswith(".") else choice, value=choice)
                for choice in action_choices()
            ],
        ),
        name="action",
        value=AdminAuditState.action,
        on_change=AdminAuditState.set_action_filter,
        size="1",
        data_testid="audit-filter-action",
    )


def _filters() -> rx.Component:
    return rx.form(
        rx.hstack(
            _field(
                "Actor",
                _text_input(
                    "actor",
                    AdminAuditState.actor,
                    AdminAuditState.set_actor,
                    "email or user id",
                    "Actor",
                ),
                "actor",
            ),
            _field("Action", _action_select(), "action"),
            _field(
                "Resource type",
                _text_input(
                    "resource_type",
                    AdminAuditState.resource_type,
                    AdminAuditState.set_resource_type,
                    "document, user, group…",
                    "Resource type",
                ),
                "resource_type",
            ),
            _field(
                "Resource id",
                _text_input(
                    "resource_id",
                    AdminAuditState.resource_id,
                    AdminAuditState.set_resource_id,
                    "exact id",
                    "Resource id",
                ),
                "resource_id",
            ),
            _field(
                "From",
                rx.input(
                    type="date",
                    name="start",
                    aria_label="From",
                    value=AdminAuditState.start,
                    on_change=AdminAuditState.set_start,
                    size="1",
                    data_testid="audit-filter-start",
                ),
                "start",
            ),
            _field(
                "To",
                rx.input(
                    type="date",
                    name="end",
                    aria_label="To",
                    value=AdminAuditState.end,
                    on_change=AdminAuditState.set_end,
                    size="1",
                    data_testid="audit-filter-end",
                ),
                "end",
            ),
            rx.hstack(
                submit_button("Apply", size="1", data_testid="audit-apply"),
                rx.button(
                    "Clear",
                    type="button",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=AdminAuditState.clear_filters,
                ),
                download_link("Export CSV", AdminAuditState.export_url, testid="audit-export"),
                spacing="2",
                align="end",
                wrap="wrap",
            ),
            wrap="wrap",
            spacing="3",
            align="end",
        ),
        on_submit=AdminAuditState.apply_filters,
        reset_on_submit=False,
        width="100%",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.button(
            "Newer",
            size="1",
            variant="soft",
            disabled=AdminAuditState.page_number <= 1,
            on_click=AdminAuditState.newer,
            data_testid="audit-newer",
        ),
        rx.text(
            f"Page {AdminAuditState.page_number} · {AdminAuditState.total_label}",
            size="1",
            data_testid="audit-page-info",
        ),
        rx.button(
            "Older",
            size="1",
            variant="soft",
            disabled=AdminAuditState.next_cursor == "",
            on_click=AdminAuditState.older,
            data_testid="audit-older",
        ),
        align="center",
    )


def _log() -> rx.Component:
    return rx.card(
        rx.vstack(
            _filters(),
            field_error(AdminAuditState.errors.get("cursor", "")),
            audit_table(AdminAuditState.rows, on_resource=AdminAuditState.show_resource),
            _pager(),
            width="100%",
            spacing="3",
        ),
        width="100%",
    )


def admin_audit_page() -> rx.Component:
    return app_shell(
        admin_tabs("audit"),
        rx.cond(
            AdminAuditState.access_denied,
            rx.callout(
                "Administrators only. You do not have access to this page.",
                icon="shield-x",
                color_scheme="red",
                data_testid="access-denied",
            ),
            _log(),
        ),
        title="Audit log",
    )
