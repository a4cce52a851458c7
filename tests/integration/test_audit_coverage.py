"""Every change and security event leaves exactly one audit entry, and no secret in it.

Group, membership, invitation and sharing events are covered in test_groups.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from tests.conftest import ADMIN_PASSWORD
from tests.integration.test_documents import files, store
from youworker.models import AuditEvent, IngestionJob, JobStatus, User
from youworker.services import (
    accounts,
    api_keys,
    registration,
    sessions,
    tools_admin,
    users_admin,
)
from youworker.services.audit import RequestContext
from youworker.services.documents import library
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.encryption import MessageCipher
from youworker.services.errors import AuthenticationFailed
from youworker.services.key_rotation import rotate_all
from youworker.settings import get_settings

__all__ = ["files", "store"]

HERE = RequestContext(ip="203.0.113.7", user_agent="pytest")
IP = "203.0.113.7"


async def the_event(db: AsyncSession, action: str) -> AuditEvent:
    """The one entry with this action (fails on none or several)."""
    events = list(await db.scalars(select(AuditEvent).where(col(AuditEvent.action) == action)))
    assert len(events) == 1, f"{action}: {len(events)} entries"
    return events[0]


def assert_event(
    event: AuditEvent,
    *,
    actor: User | None,
    resource: tuple[str, str] | None,
    details: dict[str, Any],
    ip: str | None = IP,
) -> None:
    assert event.actor_id == (actor.id if actor else None)
    if actor is not None:
        assert event.actor_email == actor.email
    assert (event.resource_type, event.resource_id) == (resource or (None, None))
    assert event.ip == ip
    assert event.details == details


async def assert_never_stored(db: AsyncSession, *secrets: str) -> None:
    """No column of any audit entry contains any of these strings."""
    rows = (await db.execute(text("SELECT * FROM audit_events"))).all()
    assert rows
    stored = "\n".join(str(value) for row in rows for value in row)
    for secret in secrets:
        assert secret not in stored


async def test_register(db: AsyncSession, admin: User) -> None:
    user = await accounts.register(
        db,
        email="Zed@Example.com",
        password="zed-secret-pass-1",
        display_name="Zed",
        context=HERE,
    )
    event = (
        await db.scalars(
            select(AuditEvent).where(
                col(AuditEvent.action) == "user.register", col(AuditEvent.actor_id) == user.id
            )
        )
    ).one()
    assert_event(event, actor=user, resource=("user", str(user.id)), details={"role": "user"})
    await assert_never_stored(db, "zed-secret-pass-1")


async def test_sign_in_success_and_failures(db: AsyncSession, alice: User) -> None:
    await accounts.authenticate(
        db, email="alice@example.com", password="alice-password-1", context=HERE
    )
    assert_event(await the_event(db, "auth.sign_in"), actor=alice, resource=None, details={})

    with pytest.raises(AuthenticationFailed):
        await accounts.authenticate(
            db, email="alice@example.com", password="wrong-guess-123", context=HERE
        )
    with pytest.raises(AuthenticationFailed):
        await accounts.authenticate(
            db, email="Nobody@Example.com", password="other-guess-456", context=HERE
        )
    failures = list(
        await db.scalars(
            select(AuditEvent)
            .where(col(AuditEvent.action) == "auth.sign_in_failed")
            .order_by(col(AuditEvent.created_at))
        )
    )
    assert len(failures) == 2
    assert_event(failures[0], actor=alice, resource=None, details={"reason": "bad_credentials"})
    assert_event(failures[1], actor=None, resource=None, details={"reason": "bad_credentials"})
    assert failures[1].actor_email == "nobody@example.com"
    await assert_never_stored(db, "alice-password-1", "wrong-guess-123", "other-guess-456")


async def test_sign_in_of_a_deactivated_account(db: AsyncSession, admin: User, alice: User) -> None:
    await users_admin.set_active(db, admin, alice.id, False)
    with pytest.raises(AuthenticationFailed):
        await accounts.authenticate(
            db, email="alice@example.com", password="alice-password-1", context=HERE
        )
    event = await the_event(db, "auth.sign_in_failed")
    assert_event(event, actor=alice, resource=None, details={"reason": "deactivated"})


async def test_sign_out_and_session_revoke(db: AsyncSession, alice: User) -> None:
    ttl = get_settings().security.session_ttl
    tokens = []
    for _ in range(2):
        token = await sessions.complete(db, await sessions.begin(db, alice), ttl)
        assert token is not None
        tokens.append(token)
    assert await sessions.end(db, tokens[0], HERE)
    assert_event(await the_event(db, "auth.sign_out"), actor=alice, resource=None, details={})

    (other,) = await sessions.list_for(db, alice)
    await sessions.revoke(db, alice, other.id, HERE)
    event = await the_event(db, "auth.session_revoke")
    assert_event(event, actor=alice, resource=("session", str(other.id)), details={})
    await assert_never_stored(db, *tokens)


async def test_password_change(db: AsyncSession, alice: User) -> None:
    await accounts.change_password(
        db,
        alice,
        current_password="alice-password-1",
        new_password="brand-new-password-9",
        context=HERE,
    )
    event = await the_event(db, "user.password_change")
    assert_event(
        event,
        actor=alice,
        resource=("user", str(alice.id)),
        details={"sessions_ended": 0, "api_keys_revoked": 0},
    )
    await assert_never_stored(db, "alice-password-1", "brand-new-password-9")


async def test_role_change(db: AsyncSession, admin: User, alice: User) -> None:
    await users_admin.set_role(db, admin, alice.id, "admin", HERE)
    assert_event(
        await the_event(db, "user.role_change"),
        actor=admin,
        resource=("user", str(alice.id)),
        details={"old": "user", "new": "admin", "email": "alice@example.com"},
    )


async def test_deactivation_and_reactivation(db: AsyncSession, admin: User, alice: User) -> None:
    await api_keys.create(db, alice, "laptop")
    await sessions.complete(
        db, await sessions.begin(db, alice), get_settings().security.session_ttl
    )
    await users_admin.set_active(db, admin, alice.id, False, HERE)
    assert_event(
        await the_event(db, "user.deactivate"),
        actor=admin,
        resource=("user", str(alice.id)),
        details={"email": "alice@example.com", "sessions_ended": 1, "api_keys_revoked": 1},
    )
    await users_admin.set_active(db, admin, alice.id, True, HERE)
    assert_event(
        await the_event(db, "user.activate"),
        actor=admin,
        resource=("user", str(alice.id)),
        details={"email": "alice@example.com"},
    )


async def test_api_key_created_and_revoked(db: AsyncSession, alice: User) -> None:
    key, plain = await api_keys.create(db, alice, "ci runner", HERE)
    assert_event(
        await the_event(db, "api_key.create"),
        actor=alice,
        resource=("api_key", str(key.id)),
        details={"name": "ci runner", "prefix": key.prefix},
    )
    await api_keys.revoke(db, alice, key.id, HERE)
    assert_event(
        await the_event(db, "api_key.revoke"),
        actor=alice,
        resource=("api_key", str(key.id)),
        details={"prefix": key.prefix},
    )
    await assert_never_stored(db, plain, plain.removeprefix(api_keys.KEY_PREFIX), key.key_hash)


async def test_registration_policy_change(db: AsyncSession, admin: User) -> None:
    await registration.set_mode(db, admin, "invite_only", HERE)
    assert_event(
        await the_event(db, "settings.registration_mode"),
        actor=admin,
        resource=None,
        details={"mode": "invite_only"},
    )


async def test_document_upload_reindex_and_delete(
    db: AsyncSession, alice: User, files: FileStore, store: EdgeVectorStore
) -> None:
    content = b"Quarterly plan. CONFIDENTIAL-BODY-TEXT must never reach the audit log.\n"
    result = await library.upload(
        db, alice, files, "plan.txt", content, max_bytes=10**6, context=HERE
    )
    document_id = result.document.id
    resource = ("document", document_id)
    details = {"name": "plan.txt", "size": len(content), "kind": "text"}
    assert_event(
        await the_event(db, "document.upload"), actor=alice, resource=resource, details=details
    )

    # A second upload of the same content is recognised, not stored again: no new entry.
    again = await library.upload(db, alice, files, "copy.txt", content, max_bytes=10**6)
    assert again.duplicate
    await the_event(db, "document.upload")

    await db.execute(
        update(IngestionJob)
        .where(col(IngestionJob.document_id) == uuid.UUID(document_id))
        .values(status=JobStatus.DONE)
    )
    await db.commit()
    await library.reindex(db, alice, uuid.UUID(document_id), HERE)
    assert_event(
        await the_event(db, "document.reindex"),
        actor=alice,
        resource=resource,
        details={"name": "plan.txt"},
    )

    await library.delete_document(db, alice, uuid.UUID(document_id), files, store, HERE)
    assert_event(
        await the_event(db, "document.delete"), actor=alice, resource=resource, details=details
    )
    await assert_never_stored(db, "CONFIDENTIAL-BODY-TEXT")


async def test_tool_enabled_and_disabled(db: AsyncSession, admin: User) -> None:
    await tools_admin.set_tool_enabled(db, admin, "web_search", False, HERE)
    assert_event(
        await the_event(db, "tool.disable"),
        actor=admin,
        resource=("tool", "web_search"),
        details={"tool": "web_search"},
    )
    await tools_admin.set_tool_enabled(db, admin, "web_search", True, HERE)
    await the_event(db, "tool.enable")


@pytest.mark.usefixtures("allow_stdio_mcp")
async def test_mcp_server_created_changed_and_removed(db: AsyncSession, admin: User) -> None:
    server = await tools_admin.create_server(
        db,
        admin,
        name="files",
        transport="stdio",
        command="mcp-files",
        args=["--token", "ARG-SECRET-123"],
        env={"API_TOKEN": "ENV-SECRET-456"},
        confirm_password=ADMIN_PASSWORD,
        context=HERE,
    )
    resource = ("mcp_server", str(server.id))
    shape = {
        "name": "files",
        "transport": "stdio",
        "enabled": True,
        "command": "mcp-files",
        "arg_count": 2,
        "env_keys": ["API_TOKEN"],
        "url": None,
    }
    assert_event(
        await the_event(db, "mcp.server_create"), actor=admin, resource=resource, details=shape
    )
    await tools_admin.update_server(
        db,
        admin,
        server.id,
        env={"API_TOKEN": "ENV-SECRET-789"},
        confirm_password=ADMIN_PASSWORD,
        context=HERE,
    )
    assert_event(
        await the_event(db, "mcp.server_update"),
        actor=admin,
        resource=resource,
        details={"changed": ["env"], **shape},
    )
    await tools_admin.delete_server(db, admin, server.id, HERE)
    assert_event(
        await the_event(db, "mcp.server_delete"), actor=admin, resource=resource, details=shape
    )
    await assert_never_stored(db, "ARG-SECRET-123", "ENV-SECRET-456", "ENV-SECRET-789")


async def test_key_rotation(db: AsyncSession, admin: User) -> None:
    key = Fernet.generate_key().decode()
    await rotate_all(db, MessageCipher([key]))
    # Run from the command line: no signed-in actor and no address.
    assert_event(
        await the_event(db, "security.key_rotation"),
        actor=None,
        resource=None,
        details={"scanned": 0, "rotated": 0},
        ip=None,
    )
    await assert_never_stored(db, key)
