"""The authorization matrix: one row per Reflex event handler and per REST endpoint.

A row either names a reason it needs no actors (`UI_ONLY`, `OWN_LIST`, `PUBLIC`, `BY_SECRET`)
or is a case run for every actor, with the outcome each must get:

- state handlers (actors: owner, other, member, group_admin, site_admin, deactivated,
  anonymous): `OK` (the effect happened: data shown or changed), `REFUSED` (nothing shown,
  nothing changed), `SIGN_IN` (sent to the sign-in page, nothing shown or changed), or a
  row's own outcome (`MANAGE`/`VIEW` for a group page);
- REST endpoints (the same actors plus `api_key`: the other user's valid key): `OK` (2xx and
  the effect), `EMPTY` (2xx without the owner's data), or the refusal's status and error code.

The world the rows act on is described in authz_matrix_world.World.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import reflex as rx
from reflex.state import BaseState
from reflex_base.event import EventSpec
from sqlalchemy import delete
from sqlmodel import col, select

from tests.integration.authz_matrix_world import (
    QUESTION,
    Matrix,
    World,
    load_user,
    shared_hash,
)
from youworker.db import session_scope
from youworker.models import (
    ApiKey,
    Collection,
    CollectionDocument,
    Conversation,
    ConversationShare,
    Document,
    DocumentShare,
    Group,
    GroupInvitation,
    GroupMembership,
    IngestionJob,
    JobStatus,
    McpServer,
    Message,
    MessageStatus,
    PasswordReset,
    ToolSetting,
    User,
    UserSession,
)
from youworker.services import registration
from youworker.services.chat.titles import title_of
from youworker.services.documents.embedders import collection_key, sparse_vector
from youworker.services.documents.vectorstore import ChunkPoint
from youworker.services.hashing import token_digest
from youworker.state.admin_analytics import AdminAnalyticsState, AdminUsageState, today
from youworker.state.admin_tools import AdminToolsState
from youworker.state.chat import ChatState, LiveAnswerState, MessageRow
from youworker.state.document_collections import CollectionsState
from youworker.state.document_view import DocumentViewState
from youworker.state.documents import DocumentsState
from youworker.state.groups import GroupState
from youworker.state.share_dialog import ShareDialogState
from youworker.state.shared import SharedConversationState

OK, REFUSED, SIGN_IN = "ok", "refused", "sign_in"
MANAGE, VIEW = "manage", "view"  # a group page with, or without, its pending invitations
EMPTY = "empty"
# REST refusals: "<status> <error code>", the one error shape of every route.
V401, V403, V404 = "401 authentication_failed", "403 forbidden", "404 not_found"
H401, H403, H404 = V401, V403, V404


@dataclass(frozen=True)
class Listed:
    """A row whose handler or endpoint takes no id and changes nothing of anyone else's."""

    category: str
    reason: str


def UI_ONLY(reason: str) -> Listed:
    """Changes only what the page shows; nothing is read or written."""
    return Listed("ui_only", reason)


def OWN_LIST(reason: str) -> Listed:
    """Lists or pages through the caller's own things (the services filter by caller)."""
    return Listed("own_list", reason)


def PUBLIC(reason: str) -> Listed:
    """For anyone, signed in or not; nobody's data."""
    return Listed("public", reason)


def BY_SECRET(reason: str) -> Listed:
    """Authorized by a secret the request carries (token, code, password, the cookie itself)."""
    return Listed("by_secret", reason)


# ---- state handlers ----------------------------------------------------------------------------


@dataclass
class Cell:
    """One actor's run of a state row: what the effect check looks at."""

    matrix: Matrix
    actor: str
    state: Any  # the row's state instance, after the handler ran
    events: list[EventSpec]

    @property
    def world(self) -> World:
        return self.matrix.world

    @property
    def actor_id(self) -> uuid.UUID | None:
        person = self.world.person(self.actor)
        return person.id if person else None

    async def other_state(self, cls: type[BaseState]) -> Any:
        return await self.state.get_state(cls)


Effect = Callable[[Cell], Awaitable[str | bool | None]]
VIEWS: set[Effect] = set()


def view(effect: Effect) -> Effect:
    """Marks an effect that only looks at the page: its row reads, so an allowed cell leaves the
    world as it was and the next cell need not put it back."""
    VIEWS.add(effect)
    return effect


Arg = Any  # a value, a "{name}" template, or a callable of the World
Step = tuple[type[BaseState], str, tuple[Arg, ...]] | Callable[[BaseState], Awaitable[None]]
Setup = Callable[[Matrix], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    """A state handler run for every actor on the page `page` (a template)."""

    page: str
    expect: tuple[str, str, str, str, str, str, str]  # in ACTORS order
    effect: Effect
    args: tuple[Arg, ...] = ()
    before: tuple[Step, ...] = ()  # the client's earlier events, as the same actor
    preset: Mapping[str, Callable[[World], Any]] = field(default_factory=dict)
    setup: Setup | None = None  # world-level preparation before each cell

    @property
    def writes(self) -> bool:
        """An allowed actor may have changed the world (the row does not only read)."""
        return self.effect not in VIEWS


def by(
    owner: str,
    other: str,
    member: str,
    group_admin: str,
    site_admin: str,
    deactivated: str = SIGN_IN,
    anonymous: str = SIGN_IN,
) -> tuple[str, str, str, str, str, str, str]:
    return (owner, other, member, group_admin, site_admin, deactivated, anonymous)


OWNER_ONLY = by(OK, REFUSED, REFUSED, REFUSED, REFUSED)
ADMIN_ONLY = by(REFUSED, REFUSED, REFUSED, REFUSED, OK)
SELF = by(OK, OK, OK, OK, OK)  # each active user acts on their own account
GROUP_READERS = by(OK, REFUSED, OK, OK, REFUSED)  # the owner and the group it is shared with
GROUP_MANAGERS = by(OK, REFUSED, REFUSED, OK, OK)  # group admins (the owner is one) and admins


async def _scalar(statement: Any) -> Any:
    async with session_scope() as db:
        return await db.scalar(statement)


async def _scalars(statement: Any) -> list[Any]:
    async with session_scope() as db:
        return list(await db.scalars(statement))


def only_actor(cell: Cell, ids: Sequence[uuid.UUID]) -> str | None:
    """OK when exactly the actor's own record changed; None when nobody's did."""
    if not ids:
        return None
    return OK if list(ids) == [cell.actor_id] else f"changed the records of {len(ids)} account(s)"


def redirect_target(events: Sequence[EventSpec]) -> str | None:
    for spec in events:
        if spec.handler.fn.__qualname__ == "_redirect":
            return str(getattr(spec.args[0][1], "_var_value", ""))
    return None


def mentions(events: Sequence[EventSpec], text: str) -> bool:
    """Some event (a toast, a script) carries `text`."""
    return any(text in str(value) for spec in events for _, value in spec.args)


@view
async def signed_in_as_actor(cell: Cell) -> bool:
    person = cell.world.person(cell.actor)
    return bool(person and cell.state.signed_in and cell.state.user_email == person.email)


@view
async def went_to_chat(cell: Cell) -> bool:
    return redirect_target(cell.events) == "/chat"


def shows(name: str) -> Effect:
    """The state's list `name` has entries (data reached the page)."""

    async def effect(cell: Cell) -> bool:
        return bool(getattr(cell.state, name))

    return view(effect)


# -- account


def display_name_is(name: str) -> Effect:
    async def effect(cell: Cell) -> str | None:
        return only_actor(cell, await _scalars(select(User.id).where(User.display_name == name)))

    return effect


async def password_changed(cell: Cell) -> str | None:
    # Every account of the world shares one hash; a changed password has its own.
    changed = await _scalars(select(User.id).where(User.password_hash != shared_hash()))
    return only_actor(cell, changed)


async def owner_session_ended(cell: Cell) -> bool:
    return (
        await _scalar(select(UserSession.id).where(UserSession.id == cell.world.owner_session_id))
        is None
    )


async def key_named_matrix(cell: Cell) -> str | None:
    return only_actor(
        cell, await _scalars(select(ApiKey.user_id).where(ApiKey.name == "matrix key"))
    )


async def owner_key_revoked(cell: Cell) -> bool:
    revoked = await _scalar(select(ApiKey.revoked_at).where(ApiKey.id == cell.world.owner_key_id))
    return revoked is not None


# -- groups


async def group_created(cell: Cell) -> str | None:
    return only_actor(
        cell, await _scalars(select(Group.created_by).where(Group.name == "Matrix group"))
    )


@view
async def group_page(cell: Cell) -> str | None:
    state = cell.state
    if state.name != "Team" or not state.members:
        return None
    return MANAGE if state.pending else VIEW


async def group_renamed(cell: Cell) -> bool:
    return (
        await _scalar(select(Group.name).where(Group.id == cell.world.group_id)) == "Renamed team"
    )


async def member_promoted(cell: Cell) -> bool:
    role = await _scalar(
        select(GroupMembership.role).where(
            GroupMembership.group_id == cell.world.group_id,
            GroupMembership.user_id == cell.world.people["member"].id,
        )
    )
    return role == "admin"


async def member_removed(cell: Cell) -> bool:
    found = await _scalar(
        select(GroupMembership.user_id).where(
            GroupMembership.group_id == cell.world.group_id,
            GroupMembership.user_id == cell.world.people["member"].id,
        )
    )
    return found is None


def invited(group: bool) -> Effect:
    async def effect(cell: Cell) -> bool:
        rows = await _scalars(
            select(GroupInvitation.group_id).where(
                GroupInvitation.invitee_email == "fresh@example.com"
            )
        )
        return bool(rows) and all((row is not None) == group for row in rows)

    return effect


def invitation_revoked(name: str) -> Effect:
    async def effect(cell: Cell) -> bool:
        invitation_id = getattr(cell.world, name)
        revoked = await _scalar(
            select(GroupInvitation.revoked_at).where(GroupInvitation.id == invitation_id)
        )
        return revoked is not None

    return effect


async def group_deleted(cell: Cell) -> bool:
    return await _scalar(select(Group.id).where(Group.id == cell.world.group_id)) is None


async def left_group(cell: Cell) -> str | None:
    before = {
        cell.world.people[name].id for name in ("owner", "group_admin", "member", "deactivated")
    }
    now = set(
        await _scalars(
            select(GroupMembership.user_id).where(GroupMembership.group_id == cell.world.group_id)
        )
    )
    return only_actor(cell, sorted(before - now))


async def invitation_accepted(cell: Cell) -> str | None:
    used_by = await _scalar(
        select(GroupInvitation.used_by).where(
            GroupInvitation.token_hash == token_digest(cell.world.accept_token)
        )
    )
    return only_actor(cell, [used_by] if used_by else [])


# -- site administration


def target_is(column: Any, value: Any) -> Effect:
    async def effect(cell: Cell) -> bool:
        found = await _scalar(select(column).where(User.id == cell.world.people["target"].id))
        return bool(found == value)

    return effect


async def reset_link_sent(cell: Cell) -> bool:
    found = await _scalar(
        select(PasswordReset.id).where(PasswordReset.user_id == cell.world.people["target"].id)
    )
    return found is not None


async def invite_only(cell: Cell) -> bool:
    async with session_scope() as db:
        return await registration.get_mode(db) == registration.RegistrationMode.INVITE_ONLY


@view
async def older_audit_page(cell: Cell) -> bool:
    return len(cell.state.cursors) == 2 and bool(cell.state.rows)


async def server_added(cell: Cell) -> bool:
    return await _scalar(select(McpServer.id).where(McpServer.name == "added")) is not None


async def server_enabled(cell: Cell) -> bool:
    return bool(
        await _scalar(select(McpServer.enabled).where(McpServer.id == cell.world.mcp_server_id))
    )


async def server_deleted(cell: Cell) -> bool:
    found = await _scalar(select(McpServer.id).where(McpServer.id == cell.world.mcp_server_id))
    return found is None


async def calculator_disabled(cell: Cell) -> bool:
    enabled = await _scalar(
        select(ToolSetting.enabled).where(ToolSetting.tool_name == "calculator")
    )
    return enabled is False


async def servers_checked(cell: Cell) -> bool:
    return mentions(cell.events, "MCP servers checked.")


# -- chat


async def _conversation(cell: Cell) -> Conversation | None:
    async with session_scope() as db:
        return await db.get(Conversation, cell.world.conversation_id)


async def _finished(cell: Cell, conversation_id: uuid.UUID) -> None:
    """Wait (on the run's own change notices) until no answer is being written."""
    runs = cell.matrix.chat_runs()
    while True:
        seen = runs.version(conversation_id)
        if not runs.is_running(conversation_id):
            return
        await runs.wait_for_change(conversation_id, seen, 10)


@view
async def thread_shown(cell: Cell) -> bool:
    state = cell.state
    return state.current_id == str(cell.world.conversation_id) and bool(state.messages)


@view
async def older_messages_shown(cell: Cell) -> bool:
    messages = cell.state.messages
    return len(messages) >= 2 and messages[0].raw == QUESTION


async def live_answer_shown(cell: Cell) -> bool:
    live = await cell.other_state(LiveAnswerState)
    return bool(live.text)


async def new_chat_answered(cell: Cell) -> str | None:
    owners = await _scalars(
        select(Conversation.owner_id).where(Conversation.id != cell.world.conversation_id)
    )
    if not owners:
        return None
    outcome = only_actor(cell, owners)
    conversation_id = uuid.UUID(cell.state.current_id)
    await _finished(cell, conversation_id)
    answers = await _scalars(
        select(Message.id).where(
            Message.conversation_id == conversation_id,
            Message.role == "assistant",
            Message.status == MessageStatus.COMPLETE,
        )
    )
    return outcome if answers else "no answer saved"


async def asked_again(cell: Cell) -> bool:
    await _finished(cell, cell.world.conversation_id)
    questions = await _scalars(
        select(Message.id).where(
            Message.conversation_id == cell.world.conversation_id, Message.role == "user"
        )
    )
    return len(questions) > 1


async def answer_stopped(cell: Cell) -> bool:
    return not cell.matrix.chat_runs().is_running(cell.world.conversation_id)


async def answer_replaced(cell: Cell) -> bool:
    await _finished(cell, cell.world.conversation_id)
    return await _scalar(select(Message.id).where(Message.id == cell.world.answer_id)) is None


def conversation_has(check: Callable[[Conversation | None], bool]) -> Effect:
    async def effect(cell: Cell) -> bool:
        return check(await _conversation(cell))

    return effect


async def held_answer(matrix: Matrix) -> None:
    """The owner's answer is being written (held after its first words) while the cell runs."""
    runs = matrix.chat_runs()
    matrix.backend.gate.clear()
    conversation_id = matrix.world.conversation_id
    await runs.start(await load_user(matrix.world.people["owner"].id), conversation_id, "Go on")
    while True:
        seen = runs.version(conversation_id)
        snapshot = runs.snapshot(conversation_id)
        if snapshot is not None and snapshot.text:
            return
        await runs.wait_for_change(conversation_id, seen, 10)


async def clear_live_answer(root: BaseState) -> None:
    """The live bubble empty, so that only the handler under test can fill it."""
    live = await root.get_state(LiveAnswerState)
    live.text = ""


# -- documents and sharing


@view
async def document_shown(cell: Cell) -> bool:
    state = cell.state
    return (
        state.name == "plan.txt"
        and not state.not_found
        and state.document_id == str(cell.world.document_id)
    )


async def uploaded(cell: Cell) -> str | None:
    return only_actor(
        cell, await _scalars(select(Document.owner_id).where(Document.name == "matrix.txt"))
    )


async def reindex_queued(cell: Cell) -> bool:
    queued = await _scalar(
        select(IngestionJob.id).where(
            IngestionJob.document_id == cell.world.document_id,
            IngestionJob.status == JobStatus.QUEUED,
        )
    )
    return queued is not None


async def stale_document(matrix: Matrix) -> None:
    """The owner's document was indexed by an embedder that is no longer the current one."""
    async with session_scope() as db:
        document = await db.get(Document, matrix.world.document_id)
        assert document is not None
        document.embedder_key, document.status = "retired-embedder", "ready"
        await db.commit()


async def _in_shelf() -> list[uuid.UUID]:
    """The documents in the world's "Team shelf" (not its archive)."""
    return await _scalars(
        select(CollectionDocument.document_id)
        .join(Collection, col(Collection.id) == CollectionDocument.collection_id)
        .where(Collection.name == "Team shelf")
    )


async def emptied_shelf(matrix: Matrix) -> None:
    """The group's collection without the document, so that putting it in is visible."""
    async with session_scope() as db:
        await db.execute(delete(CollectionDocument))
        await db.commit()


async def _in_archive(world: World) -> list[uuid.UUID]:
    return await _scalars(
        select(CollectionDocument.document_id).where(
            col(CollectionDocument.collection_id) == world.archive_id
        )
    )


async def archived(cell: Cell) -> bool:
    in_shelf = cell.world.document_id in await _in_shelf()
    return not in_shelf and cell.world.document_id in await _in_archive(cell.world)


async def shelved(cell: Cell) -> bool:
    return cell.world.document_id in await _in_shelf()


async def unshelved(cell: Cell) -> bool:
    return cell.world.document_id not in await _in_shelf()


async def shelf_made(cell: Cell) -> str | None:
    return only_actor(
        cell, await _scalars(select(Collection.owner_id).where(Collection.name == "Matrix shelf"))
    )


@view
async def chose_shelf(cell: Cell) -> bool:
    return str(cell.world.collection_id) in cell.state.collections_chosen


@view
async def searches_everything(cell: Cell) -> bool:
    return cell.state.collections_chosen == []


async def document_deleted(cell: Cell) -> bool:
    return await _scalar(select(Document.id).where(Document.id == cell.world.document_id)) is None


def share_dialog_open(kind: str) -> Effect:
    async def effect(cell: Cell) -> bool:
        state = cell.state
        return state.share_kind == kind and any(
            option.group_id == str(cell.world.group_id) and option.shared
            for option in state.share_options
        )

    return view(effect)


async def document_unshared(cell: Cell) -> bool:
    found = await _scalar(
        select(DocumentShare.group_id).where(DocumentShare.document_id == cell.world.document_id)
    )
    return found is None


async def conversation_unshared(cell: Cell) -> bool:
    found = await _scalar(
        select(ConversationShare.group_id).where(
            ConversationShare.conversation_id == cell.world.conversation_id
        )
    )
    return found is None


@view
async def shared_thread_shown(cell: Cell) -> bool:
    state = cell.state
    return state.shared_id == str(cell.world.conversation_id) and bool(state.shared_messages)


@view
async def older_shared_shown(cell: Cell) -> bool:
    messages = cell.state.shared_messages
    return len(messages) >= 2 and messages[0].raw == QUESTION


def latest_message_only(world: World) -> list[MessageRow]:
    """A thread that shows only the latest message (as after a first page)."""
    return [MessageRow(id=str(world.answer_id), role="assistant", raw="", content="")]


def upload_file(world: World) -> list[rx.UploadFile]:
    data = b"Matrix upload."
    return [rx.UploadFile(file=io.BytesIO(data), path=Path("matrix.txt"), size=len(data))]


def days_ago(days: int) -> Callable[[World], str]:
    return lambda world: (today() - timedelta(days=days)).isoformat()


GROUP = "/groups/{group}"
CHAT = "/chat/{conversation}"
OPEN_CHAT: tuple[Step, ...] = ((ChatState, "load", ()),)
ANALYTICS, USAGE = "/admin/analytics", "/admin/analytics/users"
TEXT_BOX = "types into a filter box; nothing is read until the filters are applied"

STATE_ROWS: dict[str, Listed | Case] = {
    # --- session ---
    "SessionState.require_user": Case("/chat", SELF, signed_in_as_actor),
    "SessionState.redirect_home": Case("/", SELF, went_to_chat),
    "SessionState.sign_out": UI_ONLY(
        "forgets the page's user; the browser then calls POST /auth/logout"
    ),
    "LoginState.check_already_signed_in": PUBLIC(
        "the sign-in page: a signed-in visitor goes on to /chat"
    ),
    "LoginState.submit": BY_SECRET("signs in with email and password"),
    "RegisterState.load": PUBLIC(
        "the registration page and whether registration is invitation-only"
    ),
    "RegisterState.submit": PUBLIC("registers a new account under the registration policy"),
    # --- account ---
    "AccountState.load": OWN_LIST("the caller's own sessions and API keys"),
    "AccountState.save_profile": Case(
        "/account", SELF, display_name_is("Renamed Person"), ({"display_name": "Renamed Person"},)
    ),
    "AccountState.change_password": Case(
        "/account",
        SELF,
        password_changed,
        ({"current_password": "matrix-password-1", "new_password": "another-password-2"},),
    ),
    "AccountState.revoke_session": Case(
        "/account", OWNER_ONLY, owner_session_ended, ("{owner_session}",)
    ),
    "AccountState.create_key": Case("/account", SELF, key_named_matrix, ({"name": "matrix key"},)),
    "AccountState.revoke_key": Case("/account", OWNER_ONLY, owner_key_revoked, ("{owner_key}",)),
    # --- groups ---
    "GroupsState.load": OWN_LIST("the groups the caller belongs to"),
    "GroupsState.create": Case(
        "/groups", SELF, group_created, ({"name": "Matrix group", "description": ""},)
    ),
    "GroupsState.set_create_open": UI_ONLY("opens the new-group dialog"),
    # The invitation is for the other user's address: only they may join or decline by its id.
    "GroupsState.accept_waiting": Case(
        "/groups",
        by(REFUSED, OK, REFUSED, REFUSED, REFUSED),
        invitation_accepted,
        ("{accept_invitation}",),
    ),
    "GroupsState.decline_waiting": Case(
        "/groups",
        by(REFUSED, OK, REFUSED, REFUSED, REFUSED),
        invitation_revoked("accept_invitation_id"),
        ("{accept_invitation}",),
    ),
    "GroupState.load": Case(GROUP, by(MANAGE, REFUSED, VIEW, MANAGE, MANAGE), group_page),
    "GroupState.set_edit_open": UI_ONLY("opens the edit dialog"),
    "GroupState.save": Case(
        GROUP, GROUP_MANAGERS, group_renamed, ({"name": "Renamed team", "description": "New"},)
    ),
    "GroupState.set_role": Case(GROUP, GROUP_MANAGERS, member_promoted, ("{member}", "admin")),
    "GroupState.remove": Case(GROUP, GROUP_MANAGERS, member_removed, ("{member}",)),
    "GroupState.invite": Case(
        GROUP, GROUP_MANAGERS, invited(True), ({"email": "fresh@example.com"},)
    ),
    "GroupState.revoke": Case(
        GROUP, GROUP_MANAGERS, invitation_revoked("group_invitation_id"), ("{group_invitation}",)
    ),
    "GroupState.ask": UI_ONLY("asks to confirm leaving or deleting; confirmed acts on it"),
    "GroupState.confirmed[delete]": Case(
        GROUP, GROUP_MANAGERS, group_deleted, before=((GroupState, "ask", ("delete",)),)
    ),
    "GroupState.confirmed[leave]": Case(
        # The site admin is not a member; the owner may leave, another admin remains.
        GROUP,
        by(OK, REFUSED, OK, OK, REFUSED),
        left_group,
        before=((GroupState, "ask", ("leave",)),),
    ),
    "InviteState.load": BY_SECRET("shows whom an invitation is for to whoever holds its link"),
    "InviteState.accept": Case(
        # The invitation is for the other user's address: nobody else may take it.
        "/invite/{accept_token}",
        by(REFUSED, OK, REFUSED, REFUSED, REFUSED),
        invitation_accepted,
    ),
    "InviteState.register": BY_SECRET("registers the invited address through the link's token"),
    "PasswordResetState.load": BY_SECRET("checks a password-reset link's token"),
    "PasswordResetState.submit": BY_SECRET("sets a new password through the link's token"),
    # --- site administration ---
    "AdminState.load": Case("/admin", ADMIN_ONLY, shows("users")),
    "AdminState.search": Case("/admin", ADMIN_ONLY, shows("users"), ("owner",)),
    "AdminState.go_to_page": Case("/admin", ADMIN_ONLY, shows("users"), (0,)),
    "AdminState.set_role": Case(
        "/admin", ADMIN_ONLY, target_is(User.role, "admin"), ("{target}", "admin")
    ),
    "AdminState.set_active": Case(
        "/admin", ADMIN_ONLY, target_is(User.is_active, False), ("{target}", "")
    ),
    "AdminState.send_reset_link": Case("/admin", ADMIN_ONLY, reset_link_sent, ("{target}",)),
    "AdminState.set_registration_mode": Case("/admin", ADMIN_ONLY, invite_only, ("invite_only",)),
    "AdminState.invite": Case(
        "/admin", ADMIN_ONLY, invited(False), ({"email": "fresh@example.com"},)
    ),
    "AdminState.revoke_invitation": Case(
        "/admin", ADMIN_ONLY, invitation_revoked("site_invitation_id"), ("{site_invitation}",)
    ),
    "AdminGroupsState.load": Case("/admin/groups", ADMIN_ONLY, shows("rows")),
    "AdminGroupsState.search": Case("/admin/groups", ADMIN_ONLY, shows("rows"), ("Team",)),
    "AdminGroupsState.go_to_page": Case("/admin/groups", ADMIN_ONLY, shows("rows"), (0,)),
    "AdminOutboxState.load": Case("/admin/outbox", ADMIN_ONLY, shows("mails")),
    "AdminOutboxState.go_to_page": Case("/admin/outbox", ADMIN_ONLY, shows("mails"), (0,)),
    "AdminSystemState.load": Case("/admin/system", ADMIN_ONLY, shows("probes")),
    "AdminSystemState.refresh": Case("/admin/system", ADMIN_ONLY, shows("probes")),
    "AdminAnalyticsState.load": Case(ANALYTICS, ADMIN_ONLY, shows("cards")),
    "AdminAnalyticsState.pick_preset": Case(ANALYTICS, ADMIN_ONLY, shows("cards"), (7,)),
    "AdminAnalyticsState.change_start": Case(
        ANALYTICS,
        ADMIN_ONLY,
        shows("cards"),
        (days_ago(9),),
        before=((AdminAnalyticsState, "load", ()),),
    ),
    "AdminAnalyticsState.change_end": Case(
        ANALYTICS,
        ADMIN_ONLY,
        shows("cards"),
        (days_ago(0),),
        before=((AdminAnalyticsState, "load", ()),),
    ),
    "AdminUsageState.load": Case(USAGE, ADMIN_ONLY, shows("rows")),
    "AdminUsageState.pick_preset": Case(USAGE, ADMIN_ONLY, shows("rows"), (7,)),
    "AdminUsageState.change_start": Case(
        USAGE,
        ADMIN_ONLY,
        shows("rows"),
        (days_ago(9),),
        before=((AdminUsageState, "load", ()),),
    ),
    "AdminUsageState.change_end": Case(
        USAGE,
        ADMIN_ONLY,
        shows("rows"),
        (days_ago(0),),
        before=((AdminUsageState, "load", ()),),
    ),
    "AdminUsageState.search": Case(
        USAGE, ADMIN_ONLY, shows("rows"), ("owner",), before=((AdminUsageState, "load", ()),)
    ),
    "AdminUsageState.go_to_page": Case(
        USAGE, ADMIN_ONLY, shows("rows"), (0,), before=((AdminUsageState, "load", ()),)
    ),
    "AdminAuditState.load": Case("/admin/audit", ADMIN_ONLY, shows("rows")),
    "AdminAuditState.apply_filters": Case(
        "/admin/audit", ADMIN_ONLY, shows("rows"), ({"resource_type": "group"},)
    ),
    "AdminAuditState.clear_filters": Case("/admin/audit", ADMIN_ONLY, shows("rows")),
    "AdminAuditState.set_action_filter": Case(
        "/admin/audit", ADMIN_ONLY, shows("rows"), ("group.create",)
    ),
    "AdminAuditState.show_resource": Case(
        "/admin/audit", ADMIN_ONLY, shows("rows"), ("group", "{group}")
    ),
    "AdminAuditState.older": Case(
        "/admin/audit",
        ADMIN_ONLY,
        older_audit_page,
        preset={"next_cursor": lambda world: world.audit_cursor},
    ),
    "AdminAuditState.newer": Case(
        "/admin/audit",
        ADMIN_ONLY,
        shows("rows"),
        preset={"cursors": lambda world: ["", world.audit_cursor]},
    ),
    "AdminAuditState.set_actor": UI_ONLY(TEXT_BOX),
    "AdminAuditState.set_resource_type": UI_ONLY(TEXT_BOX),
    "AdminAuditState.set_resource_id": UI_ONLY(TEXT_BOX),
    "AdminAuditState.set_start": UI_ONLY(TEXT_BOX),
    "AdminAuditState.set_end": UI_ONLY(TEXT_BOX),
    "AdminToolsState.load": Case("/admin/tools", ADMIN_ONLY, shows("servers")),
    "AdminToolsState.set_transport": UI_ONLY("switches the new-server form between stdio and HTTP"),
    "AdminToolsState.add_server": Case(
        "/admin/tools",
        ADMIN_ONLY,
        server_added,
        ({"name": "added", "url": "http://127.0.0.1:9/added", "env": "", "args": ""},),
        before=((AdminToolsState, "set_transport", ("http",)),),
    ),
    "AdminToolsState.set_server_enabled": Case(
        "/admin/tools", ADMIN_ONLY, server_enabled, ("{mcp_server}", True)
    ),
    "AdminToolsState.ask_delete": UI_ONLY("remembers what to remove; confirm_delete acts on it"),
    "AdminToolsState.cancel_delete": UI_ONLY("closes the confirmation"),
    "AdminToolsState.confirm_delete": Case(
        "/admin/tools",
        ADMIN_ONLY,
        server_deleted,
        before=((AdminToolsState, "ask_delete", ("{mcp_server}", "remote")),),
    ),
    "AdminToolsState.set_tool_enabled": Case(
        "/admin/tools", ADMIN_ONLY, calculator_disabled, ("calculator", False)
    ),
    "AdminToolsState.refresh_servers": Case("/admin/tools", ADMIN_ONLY, servers_checked),
    # --- chat ---
    "ChatState.load": Case(CHAT, OWNER_ONLY, thread_shown),
    "ChatState.load_models": Case("/chat", SELF, shows("models")),
    "ChatState.load_more_conversations": OWN_LIST("the next page of the caller's conversations"),
    "ChatState.search": OWN_LIST("searches the caller's conversation titles"),
    "ChatState.follow_list": OWN_LIST("keeps the caller's own list in step with their other tabs"),
    "ChatState.load_older": Case(
        CHAT,
        OWNER_ONLY,
        older_messages_shown,
        before=OPEN_CHAT,
        preset={"messages": latest_message_only},
    ),
    "ChatState.watch": Case(
        CHAT,
        OWNER_ONLY,
        live_answer_shown,
        before=(*OPEN_CHAT, clear_live_answer),
        setup=held_answer,
    ),
    "ChatState.send[new chat]": Case("/chat", SELF, new_chat_answered, ({"message": "Hello"},)),
    "ChatState.send[open chat]": Case(
        CHAT, OWNER_ONLY, asked_again, ({"message": "One more"},), before=OPEN_CHAT
    ),
    "ChatState.stop": Case(CHAT, OWNER_ONLY, answer_stopped, before=OPEN_CHAT, setup=held_answer),
    "ChatState.regenerate": Case(CHAT, OWNER_ONLY, answer_replaced, before=OPEN_CHAT),
    "ChatState.new_chat": UI_ONLY("clears the thread and goes to /chat"),
    "ChatState.ask_rename": UI_ONLY("remembers what to rename; confirm_rename acts on it"),
    "ChatState.ask_delete": UI_ONLY("remembers what to delete; confirm_delete acts on it"),
    "ChatState.close_dialogs": UI_ONLY("closes the dialogs"),
    "ChatState.dialog_open_changed": UI_ONLY("closes the dialogs"),
    "ChatState.confirm_rename": Case(
        CHAT,
        OWNER_ONLY,
        conversation_has(lambda c: c is not None and title_of(c) == "Renamed chat"),
        ({"title": "Renamed chat"},),
        before=((ChatState, "ask_rename", ("{conversation}", "Plans")),),
    ),
    "ChatState.confirm_delete": Case(
        CHAT,
        OWNER_ONLY,
        conversation_has(lambda c: c is None),
        before=((ChatState, "ask_delete", ("{conversation}", "Plans")),),
    ),
    "ChatState.choose_model": Case(
        CHAT,
        OWNER_ONLY,
        conversation_has(lambda c: c is not None and c.model == "tiny"),
        ("tiny",),
        before=OPEN_CHAT,
    ),
    "ChatState.toggle_tool": Case(
        CHAT,
        OWNER_ONLY,
        conversation_has(lambda c: c is not None and "calculator" in c.disabled_tools),
        ("calculator", False),
        before=OPEN_CHAT,
    ),
    "ChatState.toggle_collection": Case(
        "/chat", by(OK, REFUSED, OK, OK, REFUSED), chose_shelf, ("{collection}", True), OPEN_CHAT
    ),
    "ChatState.search_all_documents": Case(
        "/chat",
        by(OK, OK, OK, OK, OK),
        searches_everything,
        before=OPEN_CHAT,
        preset={"collections_chosen": lambda world: [str(world.collection_id)]},
    ),
    "ChatState.toggle_documents": Case(
        CHAT,
        OWNER_ONLY,
        conversation_has(lambda c: c is not None and c.use_documents),
        (True,),
        before=OPEN_CHAT,
    ),
    "SharedListState.load": OWN_LIST("conversations shared with the caller's groups"),
    "SharedConversationState.load": Case(
        "/shared/{conversation}", GROUP_READERS, shared_thread_shown
    ),
    "SharedConversationState.load_older": Case(
        "/shared/{conversation}",
        GROUP_READERS,
        older_shared_shown,
        before=((SharedConversationState, "load", ()),),
        preset={"shared_messages": latest_message_only},
    ),
    # --- documents ---
    "DocumentsState.load": OWN_LIST("the documents the caller may read"),
    "DocumentsState.refresh": OWN_LIST("reloads the caller's list"),
    "DocumentsState.sort_by": OWN_LIST("sorts the caller's list"),
    "DocumentsState.search": OWN_LIST("searches the caller's list"),
    "DocumentsState.next_page": OWN_LIST("pages through the caller's list"),
    "DocumentsState.go_to_page": OWN_LIST("pages through the caller's list"),
    "DocumentsState.previous_page": OWN_LIST("pages through the caller's list"),
    "DocumentsState.watch": OWN_LIST("refreshes the caller's list while documents are indexed"),
    "DocumentsState.prepare_upload": UI_ONLY("lists the chosen files before they are sent"),
    "DocumentsState.upload_progress": UI_ONLY("shows upload progress"),
    "DocumentsState.dismiss_uploads": UI_ONLY("hides the upload results"),
    "DocumentsState.drop_rejected": UI_ONLY("lists files the browser refused to send"),
    "DocumentsState.handle_upload": Case("/documents", SELF, uploaded, (upload_file,)),
    "DocumentsState.reindex": Case("/documents", OWNER_ONLY, reindex_queued, ("{document}",)),
    "DocumentsState.reindex_stale": Case(
        # Queues the caller's own stale documents: only the owner's touches the owner's.
        "/documents",
        OWNER_ONLY,
        reindex_queued,
        before=((DocumentsState, "load", ()),),
        setup=stale_document,
    ),
    "DocumentsState.ask_delete": UI_ONLY("remembers what to delete; confirm_delete acts on it"),
    "DocumentsState.cancel_delete": UI_ONLY("closes the confirmation"),
    "DocumentsState.delete_open_changed": UI_ONLY("closes the confirmation"),
    "DocumentsState.show_collection": OWN_LIST(
        "puts the collection in the URL; loading the list checks the caller may use it"
    ),
    "DocumentsState.start_folder_upload": UI_ONLY("shows that a chosen folder is being sent"),
    "CollectionsState.load_collections": OWN_LIST("the caller's and their groups' collections"),
    "CollectionsState.toggle_selected": UI_ONLY("ticks a row; add or remove acts on the ticks"),
    "CollectionsState.clear_selected": UI_ONLY("unticks every row"),
    "CollectionsState.toggle_page": UI_ONLY("ticks the rows the caller's page already lists"),
    "CollectionsState.set_new_open": UI_ONLY("opens the new-collection dialog"),
    "CollectionsState.set_new_name": UI_ONLY("types the new collection's name"),
    "CollectionsState.set_new_owner": UI_ONLY("picks among groups the caller administers"),
    "CollectionsState.create": Case(
        "/documents",
        SELF,
        shelf_made,
        before=((CollectionsState, "set_new_name", ("Matrix shelf",)),),
    ),
    "CollectionsState.add_selected": Case(
        # Managing the group's collection, and reading the document, are both needed.
        "/documents",
        by(OK, REFUSED, REFUSED, OK, REFUSED),
        shelved,
        ("{collection}",),
        before=((CollectionsState, "toggle_selected", ("{document}", True)),),
        setup=emptied_shelf,
    ),
    "CollectionsState.remove_selected": Case(
        "/documents",
        GROUP_MANAGERS,
        unshelved,
        before=((CollectionsState, "toggle_selected", ("{document}", True)),),
        preset={"collection": lambda world: str(world.collection_id)},  # the list shows it
    ),
    "CollectionsState.move_selected": Case(
        # As adding: managing both collections, and reading the document, are all needed.
        "/documents",
        by(OK, REFUSED, REFUSED, OK, REFUSED),
        archived,
        ("{archive}",),
        before=((CollectionsState, "toggle_selected", ("{document}", True)),),
        preset={"collection": lambda world: str(world.collection_id)},
    ),
    "DocumentsState.confirm_delete": Case(
        "/documents",
        OWNER_ONLY,
        document_deleted,
        before=((DocumentsState, "ask_delete", ("{document}", "plan.txt")),),
    ),
    "DocumentViewState.load": Case("/documents/{document}", GROUP_READERS, document_shown),
    "DocumentViewState.later": Case(
        "/documents/{document}",
        GROUP_READERS,
        document_shown,
        before=((DocumentViewState, "load", ()),),
    ),
    "DocumentViewState.earlier": Case(
        "/documents/{document}",
        GROUP_READERS,
        document_shown,
        before=((DocumentViewState, "load", ()),),
    ),
    "ShareDialogState.open_document": Case(
        "/documents", OWNER_ONLY, share_dialog_open("document"), ("{document}", "plan.txt")
    ),
    "ShareDialogState.open_conversation": Case(
        CHAT, OWNER_ONLY, share_dialog_open("conversation"), ("{conversation}", "Plans")
    ),
    "ShareDialogState.close": UI_ONLY("closes the share dialog"),
    "ShareDialogState.open_changed": UI_ONLY("closes the share dialog"),
    "ShareDialogState.toggle[document]": Case(
        "/documents",
        OWNER_ONLY,
        document_unshared,
        ("{group}", False),
        before=((ShareDialogState, "open_document", ("{document}", "plan.txt")),),
    ),
    "ShareDialogState.toggle[conversation]": Case(
        CHAT,
        OWNER_ONLY,
        conversation_unshared,
        ("{group}", False),
        before=((ShareDialogState, "open_conversation", ("{conversation}", "Plans")),),
    ),
}

# ---- REST endpoints ----------------------------------------------------------------------------


@dataclass
class Reply:
    """One actor's request: what the effect check looks at."""

    matrix: Matrix
    acting_id: uuid.UUID | None  # whose credentials were used (the key's owner for api_key)
    response: httpx.Response

    @property
    def world(self) -> World:
        return self.matrix.world


RestEffect = Callable[[Reply], Awaitable[bool]]


@dataclass(frozen=True)
class Call:
    """A REST request (`url` a template) made by every actor; `expect` in REST_ACTORS order."""

    url: str
    expect: tuple[str, str, str, str, str, str, str, str]
    effect: RestEffect
    json: Any = None
    files: Callable[[], list[tuple[str, tuple[str, bytes, str]]]] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    setup: Setup | None = None


def rest(
    owner: str,
    other: str,
    member: str,
    group_admin: str,
    site_admin: str,
    deactivated: str,
    anonymous: str,
    api_key: str,
) -> tuple[str, str, str, str, str, str, str, str]:
    return (owner, other, member, group_admin, site_admin, deactivated, anonymous, api_key)


def body_has(key: str) -> RestEffect:
    async def effect(reply: Reply) -> bool:
        response = reply.response
        return response.is_success and bool(response.json().get(key))

    return effect


def body_id(name: str) -> RestEffect:
    async def effect(reply: Reply) -> bool:
        response = reply.response
        return response.is_success and response.json().get("id") == str(getattr(reply.world, name))

    return effect


async def downloaded(reply: Reply) -> bool:
    return (
        reply.response.status_code == 200
        and reply.response.content == b"The plan for next quarter."
    )


async def audit_csv(reply: Reply) -> bool:
    lines = reply.response.text.splitlines() if reply.response.status_code == 200 else []
    return len(lines) > 1 and lines[0].startswith("time,actor_email,")


async def rest_conversation_created(reply: Reply) -> bool:
    conversations = await _scalars(select(Conversation))
    owners = [c.owner_id for c in conversations if title_of(c) == "Matrix chat"]
    return bool(owners) and owners == [reply.acting_id]


async def rest_conversation(reply: Reply) -> Conversation | None:
    async with session_scope() as db:
        return await db.get(Conversation, reply.world.conversation_id)


async def rest_renamed(reply: Reply) -> bool:
    conversation = await rest_conversation(reply)
    return conversation is not None and title_of(conversation) == "Renamed chat"


async def rest_conversation_deleted(reply: Reply) -> bool:
    return await rest_conversation(reply) is None


async def rest_asked(reply: Reply) -> bool:
    questions = await _scalars(
        select(Message.id).where(
            Message.conversation_id == reply.world.conversation_id, Message.role == "user"
        )
    )
    return len(questions) > 1


async def rest_uploaded(reply: Reply) -> bool:
    owners = await _scalars(select(Document.owner_id).where(Document.name == "matrix.txt"))
    return bool(owners) and owners == [reply.acting_id]


async def rest_document_deleted(reply: Reply) -> bool:
    return await _scalar(select(Document.id).where(Document.id == reply.world.document_id)) is None


async def rest_shelf_made(reply: Reply) -> bool:
    owners = await _scalars(select(Collection.owner_id).where(Collection.name == "Matrix shelf"))
    return reply.response.is_success and owners == [reply.acting_id]


async def rest_shelf_renamed(reply: Reply) -> bool:
    name = await _scalar(select(Collection.name).where(Collection.id == reply.world.collection_id))
    return reply.response.is_success and name == "Renamed shelf"


async def rest_shelf_deleted(reply: Reply) -> bool:
    shelf = await _scalar(select(Collection.id).where(Collection.id == reply.world.collection_id))
    return reply.response.status_code == 204 and shelf is None


async def rest_shelved(reply: Reply) -> bool:
    return reply.response.is_success and reply.world.document_id in await _in_shelf()


async def rest_unshelved(reply: Reply) -> bool:
    return reply.response.is_success and reply.world.document_id not in await _in_shelf()


async def rest_archived(reply: Reply) -> bool:
    in_archive = reply.world.document_id in await _in_archive(reply.world)
    return await rest_unshelved(reply) and in_archive


async def passage_found(reply: Reply) -> bool:
    response = reply.response
    return response.is_success and any(
        item["document_id"] == str(reply.world.document_id) for item in response.json()["items"]
    )


class MatrixEmbedder:
    """A four-dimensional embedder: every text points the same way, so any query finds the
    document's one passage, and only the access filter decides who gets it."""

    name = "matrix"
    dimension = 4
    key = collection_key("matrix", 4)
    max_input_tokens = None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0, 0.0, 0.0] for _ in texts]


async def indexed_passage(matrix: Matrix) -> None:
    """The owner's document has one passage in the vector store, shared with the group."""
    world, key = matrix.world, MatrixEmbedder.key
    await matrix.store.ensure_collection(key, MatrixEmbedder.dimension)
    text = "The plan for next quarter."
    await matrix.store.upsert(
        key,
        [
            ChunkPoint(
                id=str(uuid.uuid5(world.document_id, "passage")),
                dense=[1.0, 0.0, 0.0, 0.0],
                sparse=sparse_vector(text),
                payload={
                    "document_id": str(world.document_id),
                    "owner_id": str(world.people["owner"].id),
                    "group_ids": [str(world.group_id)],
                    "page": 1,
                    "heading": None,
                    "text": text,
                },
            )
        ],
    )


def matrix_upload() -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", ("matrix.txt", b"Matrix upload.", "text/plain"))]


CONVERSATION = "/api/v1/conversations/{conversation}"
DOCUMENT = "/api/v1/documents/{document}"
UNKNOWN_V1 = "answers 404 for unknown /api/v1 paths (it keeps them from the pages)"

REST_ROWS: dict[str, Listed | Call] = {
    "GET /health": PUBLIC("liveness; no data"),
    "GET /health/detailed": Call(
        "/health/detailed", rest(H403, H403, H403, H403, OK, H401, H401, H403), body_has("checks")
    ),
    "POST /auth/session": BY_SECRET("swaps a one-time sign-in hand-off code for the cookie"),
    "GET /auth/csrf": PUBLIC("hands out a CSRF token for the browser"),
    "POST /auth/logout": BY_SECRET("ends the session whose cookie it receives, nothing else"),
    "GET /api/documents/{document_id}/download": Call(
        "/api/documents/{document}/download",
        rest(OK, H404, OK, OK, H404, H401, H401, H404),
        downloaded,
    ),
    "GET /api/admin/audit.csv": Call(
        "/api/admin/audit.csv", rest(H403, H403, H403, H403, OK, H401, H401, H403), audit_csv
    ),
    "GET /api/admin/audit.csv[one group]": Call(
        # Group admins (the owner is one) export their group's activity.
        "/api/admin/audit.csv?group_id={group}",
        rest(OK, H403, H403, OK, OK, H401, H401, H403),
        audit_csv,
    ),
    "GET /openapi.json": PUBLIC("the API's description"),
    "GET /docs": PUBLIC("Swagger UI"),
    "MOUNT /docs-assets": PUBLIC("Swagger UI's static files"),
    "POST /api/v1/token": BY_SECRET("exchanges email and password for an access token"),
    "GET /api/v1/conversations": OWN_LIST("the caller's conversations"),
    "POST /api/v1/conversations": Call(
        "/api/v1/conversations",
        rest(OK, OK, OK, OK, OK, V401, V401, OK),
        rest_conversation_created,
        json={"title": "Matrix chat"},
    ),
    "GET /api/v1/conversations/{conversation_id}": Call(
        CONVERSATION,
        rest(OK, V404, V404, V404, V404, V401, V401, V404),
        body_id("conversation_id"),
    ),
    "PATCH /api/v1/conversations/{conversation_id}": Call(
        CONVERSATION,
        rest(OK, V404, V404, V404, V404, V401, V401, V404),
        rest_renamed,
        json={"title": "Renamed chat"},
    ),
    "DELETE /api/v1/conversations/{conversation_id}": Call(
        CONVERSATION,
        rest(OK, V404, V404, V404, V404, V401, V401, V404),
        rest_conversation_deleted,
    ),
    "GET /api/v1/conversations/{conversation_id}/messages": Call(
        CONVERSATION + "/messages",
        rest(OK, V404, V404, V404, V404, V401, V401, V404),
        body_has("items"),
    ),
    "POST /api/v1/conversations/{conversation_id}/messages": Call(
        CONVERSATION + "/messages",
        rest(OK, V404, V404, V404, V404, V401, V401, V404),
        rest_asked,
        json={"content": "One more"},
        headers={"accept": "application/json"},
    ),
    "POST /api/v1/documents": Call(
        "/api/v1/documents",
        rest(OK, OK, OK, OK, OK, V401, V401, OK),
        rest_uploaded,
        files=matrix_upload,
    ),
    "GET /api/v1/documents": OWN_LIST("the documents the caller may read"),
    "GET /api/v1/documents/{document_id}": Call(
        DOCUMENT, rest(OK, V404, OK, OK, V404, V401, V401, V404), body_id("document_id")
    ),
    "DELETE /api/v1/documents/{document_id}": Call(
        DOCUMENT, rest(OK, V404, V404, V404, V404, V401, V401, V404), rest_document_deleted
    ),
    "POST /api/v1/documents/search": Call(
        # The document ids only narrow the search; the access filter still decides.
        "/api/v1/documents/search",
        rest(OK, EMPTY, OK, OK, EMPTY, V401, V401, EMPTY),
        passage_found,
        json={"query": "plan", "document_ids": ["{document}"]},
        setup=indexed_passage,
    ),
    "GET /api/v1/collections": OWN_LIST("the caller's and their groups' collections"),
    "POST /api/v1/collections": Call(
        "/api/v1/collections",
        rest(OK, OK, OK, OK, OK, V401, V401, OK),
        rest_shelf_made,
        json={"name": "Matrix shelf"},
    ),
    "GET /api/v1/collections/{collection_id}": Call(
        "/api/v1/collections/{collection}",
        rest(OK, V404, OK, OK, OK, V401, V401, V404),
        body_id("collection_id"),
    ),
    "PATCH /api/v1/collections/{collection_id}": Call(
        "/api/v1/collections/{collection}",
        rest(OK, V404, V403, OK, OK, V401, V401, V404),
        rest_shelf_renamed,
        json={"name": "Renamed shelf"},
    ),
    "DELETE /api/v1/collections/{collection_id}": Call(
        "/api/v1/collections/{collection}",
        rest(OK, V404, V403, OK, OK, V401, V401, V404),
        rest_shelf_deleted,
    ),
    "POST /api/v1/collections/{collection_id}/documents": Call(
        # Managing the collection, and reading the document, are both needed.
        "/api/v1/collections/{collection}/documents",
        rest(OK, V404, V403, OK, V404, V401, V401, V404),
        rest_shelved,
        json={"document_ids": ["{document}"]},
        setup=emptied_shelf,
    ),
    "POST /api/v1/collections/{collection_id}/documents/remove": Call(
        "/api/v1/collections/{collection}/documents/remove",
        rest(OK, V404, V403, OK, OK, V401, V401, V404),
        rest_unshelved,
        json={"document_ids": ["{document}"]},
    ),
    "POST /api/v1/collections/{collection_id}/documents/move": Call(
        # As adding: managing both collections, and reading the document, are all needed.
        "/api/v1/collections/{collection}/documents/move",
        rest(OK, V404, V403, OK, V404, V401, V401, V404),
        rest_archived,
        json={"document_ids": ["{document}"], "target_id": "{archive}"},
    ),
    "GET /api/v1/groups": OWN_LIST("the caller's groups"),
    "GET /api/v1/groups/{group_id}/members": Call(
        "/api/v1/groups/{group}/members",
        rest(OK, V404, OK, OK, OK, V401, V401, V404),
        body_has("items"),
    ),
    "GET /api/v1/health": PUBLIC("liveness; no data"),
    "GET /api/v1/health/detailed": Call(
        "/api/v1/health/detailed",
        rest(V403, V403, V403, V403, OK, V401, V401, V403),
        body_has("checks"),
    ),
    **{
        f"{method} /api/v1/{{path:path}}": PUBLIC(UNKNOWN_V1)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    },
}
