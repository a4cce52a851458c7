"""Groups: the list, one group's members and invitations."""

from __future__ import annotations

import reflex as rx

from youworker.components.audit_table import audit_table
from youworker.components.download import download_link
from youworker.components.empty import empty_row
from youworker.components.forms import submit_button
from youworker.components.layout import app_shell, confirm_action, field_error, scroll_x
from youworker.components.local_time import time_element
from youworker.state.groups import (
    GroupRow,
    GroupsState,
    GroupState,
    InvitationRow,
    MemberRow,
    WaitingRow,
)


def _group_card(row: rx.Var[GroupRow]) -> rx.Component:
    return rx.link(
        rx.card(
            rx.hstack(
                rx.icon("users", size=18, aria_hidden="true"),
                rx.vstack(
                    rx.text(row.name, weight="medium"),
                    rx.text(row.description, size="1", color_scheme="gray", trim="end"),
                    spacing="0",
                    min_width="0",
                    flex="1",
                ),
                rx.hstack(
                    rx.badge(row.role),
                    rx.text(f"{row.members} members", size="1", color_scheme="gray"),
                    align="center",
                ),
                align="center",
                width="100%",
                wrap="wrap",
            ),
            width="100%",
        ),
        href=f"/groups/{row.id}",
        underline="none",
        width="100%",
        data_testid="group-card",
    )


def _create_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(rx.icon("plus", size=16), "New group", data_testid="new-group"),
        ),
        rx.dialog.content(
            rx.dialog.title("New group"),
            rx.form(
                rx.vstack(
                    rx.text("Name", size="2", weight="medium"),
                    rx.input(
                        name="name",
                        max_length=100,
                        auto_focus=True,
                        width="100%",
                        aria_label="Name",
                    ),
                    field_error(GroupsState.name_error),
                    rx.text("Description (optional)", size="2", weight="medium"),
                    rx.text_area(
                        name="description",
                        max_length=1000,
                        width="100%",
                        aria_label="Description (optional)",
                    ),
                    field_error(GroupsState.description_error),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                        submit_button("Create", data_testid="create-group"),
                        justify="end",
                        width="100%",
                    ),
                    width="100%",
                ),
                on_submit=GroupsState.create,
                reset_on_submit=False,
            ),
        ),
        open=GroupsState.create_open,
        on_open_change=GroupsState.set_create_open,
    )


def _waiting_card(row: rx.Var[WaitingRow]) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.icon("mail", size=18),
            rx.vstack(
                rx.text(row.group_name, weight="medium"),
                rx.text(
                    rx.cond(row.inviter != "", f"Invited by {row.inviter}", "Invited"),
                    " · open until ",
                    time_element(row.expires),
                    size="1",
                    color_scheme="gray",
                ),
                spacing="0",
                min_width="0",
            ),
            rx.spacer(),
            rx.button(
                "Decline",
                variant="soft",
                color_scheme="gray",
                on_click=GroupsState.decline_waiting(row.id),
                data_testid="decline-waiting",
            ),
            rx.button(
                "Join",
                on_click=GroupsState.accept_waiting(row.id),
                data_testid="join-waiting",
            ),
            align="center",
            width="100%",
            wrap="wrap",
        ),
        width="100%",
        data_testid="waiting-invitation",
    )


def _waiting() -> rx.Component:
    return rx.cond(
        GroupsState.waiting.length() > 0,
        rx.vstack(
            rx.heading("Invitations for you", size="4", as_="h2"),
            rx.cond(
                GroupsState.waiting_error != "",
                rx.callout(GroupsState.waiting_error, icon="triangle_alert", color_scheme="red"),
            ),
            rx.foreach(GroupsState.waiting, _waiting_card),
            width="100%",
            spacing="2",
            margin_bottom="1rem",
        ),
    )


def groups_page() -> rx.Component:
    return app_shell(
        rx.hstack(
            rx.text(
                "Groups share documents and conversations. "
                "Create one, then invite people by email.",
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            _create_dialog(),
            width="100%",
            align="center",
            wrap="wrap",
            margin_bottom="1rem",
        ),
        _waiting(),
        rx.cond(
            GroupsState.loaded & (GroupsState.my_groups.length() == 0),
            rx.callout(
                "You are not in any group yet. Create one, or accept an invitation.",
                icon="info",
                data_testid="no-groups",
            ),
        ),
        rx.vstack(rx.foreach(GroupsState.my_groups, _group_card), width="100%", spacing="2"),
        title="Groups",
    )


# --- one group ------------------------------------------------------------------------------


def _member_row(row: rx.Var[MemberRow]) -> rx.Component:
    manage = GroupState.can_manage & ~row.is_self
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.hstack(
                    rx.text(row.name, weight="medium"),
                    rx.cond(row.is_self, rx.badge("you", color_scheme="gray")),
                    rx.cond(~row.active, rx.badge("deactivated", color_scheme="red")),
                    spacing="2",
                ),
                rx.text(row.email, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.cond(
                GroupState.can_manage,
                rx.select.root(
                    rx.select.trigger(
                        data_testid=f"role-{row.email}",
                        aria_label="Role of " + row.email.to(str),
                    ),
                    rx.select.content(
                        rx.select.item("admin", value="admin"),
                        rx.select.item("member", value="member"),
                    ),
                    value=row.role,
                    size="1",
                    on_change=lambda role: GroupState.set_role(row.user_id, role),
                ),
                rx.badge(row.role),
            )
        ),
        rx.table.cell(row.joined),
        rx.table.cell(
            rx.cond(
                manage,
                confirm_action(
                    rx.button(
                        "Remove",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        data_testid=f"remove-{row.email}",
                    ),
                    title=rx.text("Remove ", row.name, " from the group?", as_="span"),
                    description=rx.text(
                        row.email,
                        " loses access at once to everything shared with this group.",
                        as_="span",
                    ),
                    confirm_label="Remove",
                    on_confirm=GroupState.remove(row.user_id),
                    confirm_testid="confirm-remove-member",
                ),
            )
        ),
        key=row.user_id,
        data_testid="member-row",
    )


def _members() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Members", as_="h2", size="4"),
            scroll_x(
                "Members",
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Person", "Role", "Joined", "Actions")
                            ]
                        )
                    ),
                    rx.table.body(
                        rx.foreach(GroupState.members, _member_row),
                        empty_row(GroupState.members, 4, "No members.", "members-empty"),
                    ),
                    width="100%",
                    size="1",
                ),
            ),
            width="100%",
        ),
        width="100%",
    )


def _pending_row(row: rx.Var[InvitationRow]) -> rx.Component:
    return rx.hstack(
        rx.icon("mail", size=14, aria_hidden="true"),
        rx.text(row.email, size="2", word_break="break-all"),
        rx.text(
            f"invited by {row.inviter} · expires ",
            time_element(row.expires),
            size="1",
            color_scheme="gray",
        ),
        rx.spacer(),
        confirm_action(
            rx.button(
                "Withdraw",
                size="1",
                variant="soft",
                color_scheme="gray",
                data_testid=f"revoke-{row.email}",
            ),
            title="Withdraw this invitation?",
            description=rx.text(
                "The link sent to ", row.email, " stops working at once.", as_="span"
            ),
            confirm_label="Withdraw",
            on_confirm=GroupState.revoke(row.id),
            confirm_testid="confirm-withdraw",
        ),
        width="100%",
        align="center",
        wrap="wrap",
        key=row.id,
        data_testid="pending-invitation",
    )


def _invitations() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Invite people", as_="h2", size="4"),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="email",
                        type="email",
                        placeholder="name@example.com",
                        aria_label="Email address to invite",
                        max_length=254,
                        required=True,
                        width="100%",
                        max_width="20rem",
                        data_testid="invite-email",
                    ),
                    submit_button("Send invitation", data_testid="invite-submit"),
                    wrap="wrap",
                ),
                on_submit=GroupState.invite,
                reset_on_submit=True,
            ),
            field_error(GroupState.invite_error),
            rx.cond(
                GroupState.invite_note != "",
                rx.callout(GroupState.invite_note, icon="send", data_testid="invite-note"),
            ),
            rx.cond(
                GroupState.pending.length() > 0,
                rx.vstack(
                    rx.text("Waiting for an answer", size="2", weight="medium"),
                    rx.foreach(GroupState.pending, _pending_row),
                    width="100%",
                    spacing="1",
                ),
            ),
            width="100%",
        ),
        width="100%",
    )


def _activity() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Activity", as_="h2", size="4"),
                rx.spacer(),
                download_link(
                    "Export CSV",
                    f"/api/admin/audit.csv?group_id={GroupState.group_id}",
                    testid="group-activity-export",
                ),
                width="100%",
                wrap="wrap",
            ),
            rx.text(
                "Membership, invitation and sharing changes in this group (newest 20).",
                size="1",
                color_scheme="gray",
            ),
            audit_table(GroupState.activity),
            width="100%",
        ),
        width="100%",
        data_testid="group-activity",
    )


def _edit_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button("Edit", variant="soft", size="2", data_testid="edit-group")),
        rx.dialog.content(
            rx.dialog.title("Edit group"),
            rx.form(
                rx.vstack(
                    rx.text("Name", size="2", weight="medium"),
                    rx.input(
                        name="name",
                        default_value=GroupState.name,
                        max_length=100,
                        width="100%",
                        aria_label="Name",
                    ),
                    field_error(GroupState.name_error),
                    rx.text("Description", size="2", weight="medium"),
                    rx.text_area(
                        name="description",
                        default_value=GroupState.description,
                        max_length=1000,
                        width="100%",
                        aria_label="Description",
                    ),
                    field_error(GroupState.description_error),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                        submit_button("Save", data_testid="save-group"),
                        justify="end",
                        width="100%",
                    ),
                    width="100%",
                ),
                on_submit=GroupState.save,
                reset_on_submit=False,
            ),
        ),
        open=GroupState.edit_open,
        on_open_change=GroupState.set_edit_open,
    )


def _confirm_dialog() -> rx.Component:
    leaving = GroupState.confirm == "leave"
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(rx.cond(leaving, "Leave this group?", "Delete this group?")),
            rx.alert_dialog.description(
                rx.cond(
                    leaving,
                    "You lose access to what its members shared with it at once.",
                    "Members lose access to everything shared with it. This cannot be undone.",
                )
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        rx.cond(leaving, "Leave", "Delete"),
                        color_scheme="red",
                        on_click=GroupState.confirmed,
                        data_testid="confirm-group-action",
                    )
                ),
                justify="end",
                margin_top="1rem",
            ),
        ),
        open=GroupState.confirm != "",
        on_open_change=lambda _open: GroupState.ask(""),
    )


def _header() -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.heading(GroupState.name, as_="h2", size="6", data_testid="group-name"),
            rx.text(GroupState.description, color_scheme="gray", size="2"),
            spacing="1",
        ),
        rx.spacer(),
        rx.hstack(
            rx.cond(GroupState.can_manage, _edit_dialog()),
            rx.cond(
                GroupState.my_role != "",
                rx.button(
                    "Leave",
                    variant="soft",
                    color_scheme="gray",
                    on_click=GroupState.ask("leave"),
                    data_testid="leave-group",
                ),
            ),
            rx.cond(
                GroupState.can_manage,
                rx.button(
                    "Delete",
                    variant="soft",
                    color_scheme="red",
                    on_click=GroupState.ask("delete"),
                    data_testid="delete-group",
                ),
            ),
            spacing="2",
        ),
        width="100%",
        align="start",
        wrap="wrap",
    )


def group_page() -> rx.Component:
    return app_shell(
        rx.link("← All groups", href="/groups", size="2"),
        rx.cond(
            GroupState.not_found,
            rx.callout(
                "This group does not exist, or you are not a member.",
                icon="circle-alert",
                color_scheme="red",
                data_testid="group-not-found",
            ),
            rx.vstack(
                _header(),
                _members(),
                rx.cond(GroupState.can_manage, _invitations()),
                rx.cond(GroupState.can_manage, _activity()),
                _confirm_dialog(),
                width="100%",
                spacing="4",
                margin_top="0.75rem",
            ),
        ),
        title="Group",
    )
