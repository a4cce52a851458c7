"""Registration, sign-in, profile and password: on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from passlib.context import CryptContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import count_rows
from youworker.models import AuditEvent, Role, User
from youworker.services import accounts, registration
from youworker.services.audit import RequestContext
from youworker.services.errors import AuthenticationFailed, Forbidden, ValidationFailed


async def _actions(db: AsyncSession) -> list[str]:
    return list(await db.scalars(select(AuditEvent.action).order_by(AuditEvent.created_at)))


async def test_first_account_is_admin_and_later_ones_are_not(db: AsyncSession) -> None:
    first = await accounts.register(
        db, email="first@example.com", password="first-password", display_name="F"
    )
    second = await accounts.register(
        db, email="second@example.com", password="second-password", display_name="S"
    )
    assert first.role == Role.ADMIN
    assert second.role == Role.USER


async def test_email_is_unique_in_any_case(db: AsyncSession, admin: User) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await accounts.register(
            db, email="  ADMIN@Example.COM ", password="another-password", display_name="X"
        )
    assert caught.value.fields == {"email": "An account with this email already exists."}
    assert await count_rows(db, "users") == 1


@pytest.mark.parametrize(
    ("email", "password", "name", "field", "message"),
    [
        ("not-an-email", "long-enough-pw", "N", "email", "Enter a valid email address"),
        ("", "long-enough-pw", "N", "email", "Email is required."),
        ("a@example.com", "short", "N", "password", "at least 10 characters"),
        ("a@example.com", "", "N", "password", "Password is required."),
        ("a@example.com", "x" * 257, "N", "password", "at most 256"),
        ("a@example.com", "long-enough-pw", "   ", "display_name", "Display name is required."),
        ("a@example.com", "long-enough-pw", "n" * 101, "display_name", "at most 100"),
        ("a" * 250 + "@example.com", "long-enough-pw", "N", "email", "at most 254"),
    ],
)
async def test_bad_registration_input_names_the_field_and_creates_nothing(
    db: AsyncSession, admin: User, email: str, password: str, name: str, field: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await accounts.register(db, email=email, password=password, display_name=name)
    assert message in caught.value.fields[field]
    assert await count_rows(db, "users") == 1


async def test_every_bad_field_is_reported_at_once(db: AsyncSession) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await accounts.register(db, email="nope", password="short", display_name="")
    assert set(caught.value.fields) == {"email", "password", "display_name"}
    assert await count_rows(db, "users") == 0


async def test_invite_only_blocks_open_registration_but_not_the_first_admin(
    db: AsyncSession,
) -> None:
    admin = await accounts.register(
        db, email="boss@example.com", password="boss-password", display_name="B"
    )
    await registration.set_mode(db, admin, "invite_only")
    with pytest.raises(Forbidden, match="invitation"):
        await accounts.register(
            db, email="new@example.com", password="new-password", display_name="N"
        )
    invited = await accounts.register(
        db, email="new@example.com", password="new-password", display_name="N", invited=True
    )
    assert invited.role == Role.USER


async def test_sign_in_is_generic_for_unknown_email_and_wrong_password(
    db: AsyncSession, alice: User
) -> None:
    with pytest.raises(AuthenticationFailed) as unknown:
        await accounts.authenticate(db, email="nobody@example.com", password="whatever-password")
    with pytest.raises(AuthenticationFailed) as wrong:
        await accounts.authenticate(db, email="alice@example.com", password="wrong-password")
    assert unknown.value.message == wrong.value.message == "Email or password is incorrect."
    actions = await _actions(db)
    assert actions.count("auth.sign_in_failed") == 2


async def test_sign_in_ignores_email_case_and_records_it(db: AsyncSession, alice: User) -> None:
    context = RequestContext(ip="203.0.113.9", user_agent="pytest")
    user = await accounts.authenticate(
        db, email="ALICE@example.com", password="alice-password-1", context=context
    )
    assert user.id == alice.id
    assert user.last_sign_in_at is not None
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "auth.sign_in"))
    assert event is not None and event.ip == "203.0.113.9" and event.actor_id == alice.id


async def test_deactivated_account_cannot_sign_in(db: AsyncSession, alice: User) -> None:
    alice.is_active = False
    await db.commit()
    with pytest.raises(AuthenticationFailed, match="deactivated"):
        await accounts.authenticate(db, email="alice@example.com", password="alice-password-1")


async def test_outdated_hash_is_replaced_on_sign_in(db: AsyncSession, alice: User) -> None:
    alice.password_hash = CryptContext(schemes=["argon2"], argon2__memory_cost=8192).hash(
        "alice-password-1"
    )
    old_hash = alice.password_hash
    await db.commit()
    user = await accounts.authenticate(db, email="alice@example.com", password="alice-password-1")
    assert user.password_hash != old_hash
    assert "m=19456" in user.password_hash


async def test_profile_update_validates_and_saves(db: AsyncSession, alice: User) -> None:
    with pytest.raises(ValidationFailed):
        await accounts.update_profile(db, alice, display_name=" ")
    updated = await accounts.update_profile(db, alice, display_name="  Alice Liddell ")
    assert updated.display_name == "Alice Liddell"


async def test_password_change_needs_the_current_password(db: AsyncSession, alice: User) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await accounts.change_password(
            db, alice, current_password="nope-nope-nope", new_password="brand-new-pw1"
        )
    assert "current_password" in caught.value.fields
    await accounts.change_password(
        db, alice, current_password="alice-password-1", new_password="brand-new-pw1"
    )
    with pytest.raises(AuthenticationFailed):
        await accounts.authenticate(db, email="alice@example.com", password="alice-password-1")
    assert (
        await accounts.authenticate(db, email="alice@example.com", password="brand-new-pw1")
    ).id == alice.id
    assert "user.password_change" in await _actions(db)
