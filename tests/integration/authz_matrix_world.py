"""The world of the authorization matrix: who acts, with which credentials, on what.

One world is built per database backend (through the real services, once per test run) and
kept as a snapshot: a copy of the SQLite file, or every table's rows on PostgreSQL. It is put
back before the first cell of each test and after every cell that may have changed it.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, delete, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel, col, select

from youworker import db as db_module
from youworker.db import session_scope
from youworker.models import (
    Document,
    DocumentStatus,
    GroupInvitation,
    GroupRole,
    IngestionJob,
    JobStatus,
    Message,
    MessageStatus,
    Role,
    User,
    UserSession,
)
from youworker.models.base import utcnow
from youworker.services import (
    access_tokens,
    api_keys,
    chat,
    groups,
    invitations,
    runtime,
    sessions,
    sharing,
    tools_admin,
    users_admin,
)
from youworker.services.audit import trail
from youworker.services.chat.runs import ChatRuns
from youworker.services.documents import collections, library
from youworker.services.documents.embedders import get_onnx_embedder
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.encryption import get_cipher
from youworker.services.hashing import hash_password, token_digest
from youworker.services.llm.base import ChatChunk, ChatMessage, LLMBackend, ModelInfo, ToolSpec
from youworker.services.llm.base import Usage as TokenUsage
from youworker.services.mcp import McpManager
from youworker.services.tools.registry import ToolRegistry
from youworker.settings import get_settings

# The actors of every row, in the order the matrix lists them.
ACTORS = ("owner", "other", "member", "group_admin", "site_admin", "deactivated", "anonymous")
API_KEY = "api_key"  # REST only: the other user's valid personal key, used on the owner's things
REST_ACTORS = (*ACTORS, API_KEY)
PEOPLE = ("owner", "other", "member", "group_admin", "site_admin", "deactivated", "target")
PASSWORD = "matrix-password-1"
DOCUMENT_TEXT = b"The plan for next quarter."
QUESTION = "What is the plan?"
ANSWER = "The plan is to ship."


@dataclass(frozen=True)
class Person:
    """One account and the credentials it acts with (made while it was still active)."""

    id: uuid.UUID
    email: str
    session: str  # the value of the session cookie
    jwt: str


@dataclass(frozen=True)
class World:
    """Ids and secrets of everything the rows act on. Plain values: valid for every snapshot.

    The owner created the group "Team" (admin) and owns the document and the conversation, both
    shared with it; `group_admin` is a second admin of the group, `member` and `deactivated` are
    members, `other` belongs to no group, `target` is the bystander site admins act on.
    """

    people: Mapping[str, Person]
    group_id: uuid.UUID
    document_id: uuid.UUID
    collection_id: uuid.UUID  # the group's collection "Team shelf", holding the document
    archive_id: uuid.UUID  # the group's empty collection "Team archive" (documents move there)
    conversation_id: uuid.UUID
    answer_id: uuid.UUID  # the conversation's last (assistant) message
    owner_session_id: uuid.UUID  # the owner's second session (the one revoked)
    owner_key_id: uuid.UUID
    other_key: str  # the other user's personal API key
    group_invitation_id: uuid.UUID  # pending, to invitee@example.com
    site_invitation_id: uuid.UUID  # pending, to newcomer@example.com
    accept_token: str  # an invitation to the group for the other user's address
    accept_invitation_id: uuid.UUID  # that invitation (the Groups page accepts it by id)
    mcp_server_id: uuid.UUID
    audit_cursor: str  # a cursor into the audit log (its second entry onwards)

    def person(self, actor: str) -> Person | None:
        return self.people.get(actor)

    def names(self) -> dict[str, str]:
        """Values the rows' templates name: `{group}`, `{document}`, `{member}`, ..."""
        values = {
            "group": str(self.group_id),
            "document": str(self.document_id),
            "collection": str(self.collection_id),
            "archive": str(self.archive_id),
            "conversation": str(self.conversation_id),
            "owner_session": str(self.owner_session_id),
            "owner_key": str(self.owner_key_id),
            "group_invitation": str(self.group_invitation_id),
            "site_invitation": str(self.site_invitation_id),
            "accept_token": self.accept_token,
            "accept_invitation": str(self.accept_invitation_id),
            "mcp_server": str(self.mcp_server_id),
        }
        values.update({name: str(person.id) for name, person in self.people.items()})
        return values


@dataclass(frozen=True)
class Snapshot:
    """The built world: on SQLite a copy of the database file, elsewhere every table's rows."""

    world: World
    sqlite_file: Path | None = None
    tables: Sequence[tuple[Table, list[dict[str, Any]]]] = ()


_snapshots: dict[str, Snapshot] = {}
_password_hash: list[str] = []


def shared_hash() -> str:
    """One argon2 hash for every account: hashing per account per backend would cost seconds."""
    if not _password_hash:
        _password_hash.append(hash_password(PASSWORD))
    return _password_hash[0]


class ScriptedBackend:
    """A model that answers at once, or holds after its first words while `gate` is closed."""

    name = "scripted"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()

    async def stream_chat(
        self, model: str, messages: list[ChatMessage], tools: list[ToolSpec] | None = None
    ) -> AsyncIterator[ChatChunk]:
        yield ChatChunk(content="The plan")
        await self.gate.wait()
        yield ChatChunk(content=" is to ship.", done=True, usage=TokenUsage(3, 5))

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo("scripted")]

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0, 0.0, 0.0] for _ in texts]


async def _person(name: str, role: str = Role.USER) -> User:
    async with session_scope() as db:
        user = User(
            email=f"{name}@example.com",
            display_name=name.replace("_", " ").title(),
            password_hash=shared_hash(),
            role=role,
        )
        db.add(user)
        await db.commit()
        return user


async def _session_token(user: User) -> tuple[str, uuid.UUID]:
    async with session_scope() as db:
        code = await sessions.begin(db, user)
        token = await sessions.complete(db, code, get_settings().security.session_ttl)
        assert token is not None
        row = await db.scalar(
            select(UserSession).where(col(UserSession.token_hash) == token_digest(token))
        )
        assert row is not None
        return token, row.id


async def _build(files: FileStore, store: EdgeVectorStore) -> World:
    users = {
        name: await _person(name, Role.ADMIN if name == "site_admin" else Role.USER)
        for name in PEOPLE
    }
    owner, admin = users["owner"], users["site_admin"]
    async with session_scope() as db:
        group = await groups.create_group(db, owner, "Team", "The owner's team")
        await groups.add_member(db, group.id, users["group_admin"].id, GroupRole.ADMIN)
        for name in ("member", "deactivated"):
            await groups.add_member(db, group.id, users[name].id, GroupRole.MEMBER)
        await db.commit()

        uploaded = await library.upload(
            db, owner, files, "plan.txt", DOCUMENT_TEXT, max_bytes=1_000_000
        )
        document_id = uuid.UUID(uploaded.document.id)
        # Indexing failed: the owner may re-index it at once (no job pending).
        await db.execute(
            update(Document)
            .where(col(Document.id) == document_id)
            .values(status=DocumentStatus.FAILED, error="The parser gave up.")
        )
        await db.execute(
            update(IngestionJob)
            .where(col(IngestionJob.document_id) == document_id)
            .values(status=JobStatus.FAILED)
        )
        await db.commit()
        await sharing.set_document_shared(db, owner, document_id, group.id, True, store)
        shelf = await collections.create_collection(db, owner, "Team shelf", group_id=group.id)
        collection_id = uuid.UUID(shelf.id)
        await collections.add_documents(db, owner, collection_id, [document_id])
        archive = await collections.create_collection(db, owner, "Team archive", group_id=group.id)
        archive_id = uuid.UUID(archive.id)

        conversation = await chat.create_conversation(db, owner, title="Plans")
        await chat.add_user_message(db, owner, conversation.id, QUESTION)
        answer = Message(
            conversation_id=conversation.id,
            role="assistant",
            content_enc=get_cipher().encrypt(ANSWER),
            status=MessageStatus.COMPLETE,
            completed_at=utcnow(),
        )
        db.add(answer)
        await db.commit()
        await sharing.set_conversation_shared(db, owner, conversation.id, group.id, True)

        owner_key, _ = await api_keys.create(db, owner, "owner's key")
        _, other_key = await api_keys.create(db, users["other"], "other's key")
        pending = await invitations.invite(db, owner, "invitee@example.com", group.id)
        site = await invitations.invite(db, admin, "newcomer@example.com", None)
        accept_token = f"matrix-{uuid.uuid4().hex}"
        now = utcnow()
        for_other = GroupInvitation(
            group_id=group.id,
            inviter_id=owner.id,
            invitee_email=users["other"].email,
            token_hash=token_digest(accept_token),
            created_at=now,
            expires_at=now + get_settings().groups.invitation_ttl,
        )
        db.add(for_other)
        await db.commit()
        accept_invitation_id = for_other.id
        # Disabled, so that refreshing the MCP servers never connects anywhere.
        server = await tools_admin.create_server(
            db,
            admin,
            name="remote",
            transport="http",
            url="http://127.0.0.1:9/mcp",
            enabled=False,
        )
        group_id, conversation_id, answer_id = group.id, conversation.id, answer.id
        invitation_ids = (pending.invitation.id, site.invitation.id)
        owner_key_id, server_id = owner_key.id, server.id

    credentials: dict[str, tuple[str, uuid.UUID]] = {}
    jwts: dict[str, str] = {}
    for name, user in users.items():
        credentials[name] = await _session_token(user)
        jwts[name] = access_tokens.issue(user).token
    _, owner_second_session = await _session_token(owner)
    async with session_scope() as db:
        # Deactivation ends every session; the cookie below is made afterwards on purpose, so
        # that only the account's state can refuse it.
        await users_admin.set_active(db, admin, users["deactivated"].id, False)
    credentials["deactivated"] = await _session_token(users["deactivated"])
    async with session_scope() as db:
        page = await trail.list_events(db, admin, trail.AuditFilter(), limit=1)
        assert page.next_cursor
    return World(
        people={
            name: Person(user.id, user.email, credentials[name][0], jwts[name])
            for name, user in users.items()
        },
        group_id=group_id,
        document_id=document_id,
        collection_id=collection_id,
        archive_id=archive_id,
        conversation_id=conversation_id,
        answer_id=answer_id,
        owner_session_id=owner_second_session,
        owner_key_id=owner_key_id,
        other_key=other_key,
        group_invitation_id=invitation_ids[0],
        site_invitation_id=invitation_ids[1],
        accept_token=accept_token,
        accept_invitation_id=accept_invitation_id,
        mcp_server_id=server_id,
        audit_cursor=page.next_cursor,
    )


async def _empty(conn: AsyncConnection) -> None:
    for table in reversed(SQLModel.metadata.sorted_tables):
        await conn.execute(delete(table))


def _sqlite_file(url: str) -> Path:
    return Path(str(make_url(url).database))


def _copy_sqlite(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


async def _dump(engine: AsyncEngine) -> list[tuple[Table, list[dict[str, Any]]]]:
    async with engine.connect() as conn:
        return [
            (table, [dict(row._mapping) for row in await conn.execute(table.select())])
            for table in SQLModel.metadata.sorted_tables
        ]


@dataclass
class Matrix:
    """One test's handle on the world: put it back, and the per-test services the app uses."""

    engine: AsyncEngine
    database_url: str
    snapshot: Snapshot
    files: FileStore
    store: EdgeVectorStore
    backend: ScriptedBackend = field(default_factory=ScriptedBackend)
    runs: ChatRuns | None = None
    dirty: bool = True

    @property
    def world(self) -> World:
        return self.snapshot.world

    async def restore(self) -> None:
        """Every table as the snapshot has it, and the document's file in place."""
        if self.snapshot.sqlite_file is not None:
            # SQLite's backup API writes the whole file in one transaction; the app's pooled
            # connections see the new content on their next read.
            _copy_sqlite(self.snapshot.sqlite_file, _sqlite_file(self.database_url))
        else:
            async with self.engine.begin() as conn:
                await _empty(conn)
                for table, rows in self.snapshot.tables:
                    if rows:
                        await conn.execute(table.insert(), rows)
        self.files.write(self.world.document_id, DOCUMENT_TEXT)
        self.dirty = False

    async def fresh_runs(self) -> ChatRuns:
        """A new set of running answers (each cell's own), on the scripted model."""
        await self.stop_runs()
        self.backend.gate.set()

        async def resolve() -> tuple[LLMBackend, str]:
            return self.backend, "scripted"

        self.runs = ChatRuns(resolve, ToolRegistry())
        return self.runs

    async def stop_runs(self) -> None:
        if self.runs is not None:
            self.backend.gate.set()
            await self.runs.shutdown()
            self.runs = None

    def chat_runs(self) -> ChatRuns:
        assert self.runs is not None, "fresh_runs() first"
        return self.runs


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def matrix_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database on each backend, as conftest's `database_url`, except that
    PostgreSQL is not emptied first: the matrix empties and fills every table itself before its
    first cell, and the per-test TRUNCATE would double the run time on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "matrix.db")
        return f"sqlite:///{tmp_path / 'matrix.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
async def matrix_engine(matrix_database: str) -> AsyncIterator[AsyncEngine]:
    """The app's sessions on the matrix database (conftest's `engine`, on `matrix_database`)."""
    engine = db_module.create_engine_for(matrix_database)
    db_module.use_engine(engine)
    yield engine
    await db_module.dispose_engine()


@pytest.fixture
async def matrix(
    matrix_engine: AsyncEngine,
    matrix_database: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Matrix]:
    """The world on this test's database, with the app's process-wide services made per test."""
    files = FileStore(tmp_path / "documents")
    store = EdgeVectorStore(tmp_path / "vectors")
    mcp = McpManager(connect_timeout_s=2, list_timeout_s=2)
    registry = ToolRegistry(mcp=mcp)
    monkeypatch.setattr(runtime, "get_file_store", lambda: files)
    monkeypatch.setattr(runtime, "get_vector_store", lambda: store)
    # The built-in embedder's name and key, without choosing one in a background task.
    monkeypatch.setattr(runtime, "known_embedder", get_onnx_embedder)
    monkeypatch.setattr("youworker.state.admin_tools.get_mcp_manager", lambda: mcp)
    monkeypatch.setattr("youworker.state.admin_tools.get_tool_registry", lambda: registry)
    monkeypatch.setattr("youworker.state.chat.switches.get_tool_registry", lambda: registry)
    # A tab follows an answer until it has been idle this long: short, so that a cell ends.
    for follower in ("following", "conversations"):
        monkeypatch.setattr(f"youworker.state.chat.{follower}.WATCH_WAIT_SECONDS", 0.05)
    monkeypatch.setattr("youworker.state.chat.following.WATCH_IDLE_SECONDS", 0.3)
    backend_name = "postgresql" if matrix_database.startswith("postgresql") else "sqlite"
    snapshot = _snapshots.get(backend_name)
    if snapshot is None:
        async with matrix_engine.begin() as conn:
            await _empty(conn)  # what other tests left behind
        world = await _build(files, store)
        if backend_name == "sqlite":
            kept = tmp_path_factory.mktemp("matrix-world") / "world.db"
            _copy_sqlite(_sqlite_file(matrix_database), kept)
            snapshot = Snapshot(world, sqlite_file=kept)
        else:
            snapshot = Snapshot(world, tables=await _dump(matrix_engine))
        _snapshots[backend_name] = snapshot
    matrix = Matrix(
        engine=matrix_engine,
        database_url=matrix_database,
        snapshot=snapshot,
        files=files,
        store=store,
    )
    for part in ("conversations", "following", "thread"):
        monkeypatch.setattr(f"youworker.state.chat.{part}.get_chat_runs", matrix.chat_runs)
    try:
        yield matrix
    finally:
        await matrix.stop_runs()
        await mcp.aclose()
        await store.close()


def fill(template: Any, names: Mapping[str, str]) -> Any:
    """`template` with `{name}` placeholders replaced, inside strings, lists and dicts."""
    if isinstance(template, str):
        return template.format_map(names)
    if isinstance(template, list):
        return [fill(item, names) for item in template]
    if isinstance(template, tuple):
        return tuple(fill(item, names) for item in template)
    if isinstance(template, dict):
        return {key: fill(value, names) for key, value in template.items()}
    return template


async def load_user(user_id: uuid.UUID) -> User:
    async with session_scope() as db:
        user = await db.get(User, user_id)
        assert user is not None
        return user
