"""Reading the audit log: filters, keyset paging, CSV export, who may read it; on both backends."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.api.app import create_api
from youworker.models import AuditEvent, Group, GroupMembership, GroupRole, User
from youworker.services import accounts, api_keys, sessions, users_admin
from youworker.services.audit import RequestContext, trail
from youworker.services.audit.trail import AuditFilter
from youworker.services.errors import AuthenticationFailed, Forbidden, ValidationFailed
from youworker.state.admin_audit import export_href, group_activity_rows

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
BASE = "http://testserver"


@dataclass
class World:
    admin: User
    alice: User
    bob: User  # member of g1
    carol: User  # admin of g1
    dave: User  # admin of g2
    g1: uuid.UUID
    g2: uuid.UUID
    events: list[AuditEvent]  # newest first


def add_event(
    db: AsyncSession,
    action: str,
    at: datetime,
    *,
    actor: User | None = None,
    email: str | None = None,
    resource: tuple[str, str] | None = None,
    group_id: uuid.UUID | None = None,
    ip: str | None = None,
    **details: Any,
) -> AuditEvent:
    event = AuditEvent(
        created_at=at,
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else email,
        action=action,
        resource_type=resource[0] if resource else None,
        resource_id=resource[1] if resource else None,
        group_id=group_id,
        ip=ip,
        details=details,
    )
    db.add(event)
    return event


async def register(db: AsyncSession, name: str) -> User:
    return await accounts.register(
        db, email=f"{name}@example.com", password=f"{name}-password-1", display_name=name.title()
    )


@pytest.fixture
async def world(db: AsyncSession, admin: User, alice: User, bob: User) -> World:
    carol, dave = await register(db, "carol"), await register(db, "dave")
    g1, g2 = Group(name="One"), Group(name="Two")
    db.add_all([g1, g2])
    await db.flush()
    db.add_all(
        [
            GroupMembership(group_id=g1.id, user_id=carol.id, role=GroupRole.ADMIN),
            GroupMembership(group_id=g1.id, user_id=bob.id, role=GroupRole.MEMBER),
            GroupMembership(group_id=g2.id, user_id=dave.id, role=GroupRole.ADMIN),
        ]
    )
    # Only the entries below: the registrations above would make the expectations depend on now.
    await db.execute(delete(AuditEvent))
    events = [
        add_event(db, "auth.sign_in", T0, actor=alice, ip="198.51.100.1"),
        add_event(db, "auth.sign_in_failed", T0 + timedelta(minutes=1), email="nobody@x.org"),
        add_event(
            db,
            "document.upload",
            T0 + timedelta(days=1),
            actor=alice,
            resource=("document", "doc-1"),
            name="plan.pdf",
        ),
        add_event(
            db,
            "group.create",
            T0 + timedelta(days=1, hours=1),
            actor=carol,
            resource=("group", str(g1.id)),
            group_id=g1.id,
        ),
        add_event(
            db,
            "invitation.create",
            T0 + timedelta(days=2),
            actor=carol,
            resource=("invitation", "inv-1"),
            group_id=g1.id,
        ),
        add_event(
            db,
            "group.create",
            T0 + timedelta(days=2, hours=1),
            actor=dave,
            resource=("group", str(g2.id)),
            group_id=g2.id,
        ),
        add_event(db, "auth.sign_out", T0 + timedelta(days=3), actor=bob),
        add_event(
            db,
            "document.delete",
            T0 + timedelta(days=3, hours=2),
            actor=alice,
            resource=("document", "doc-1"),
        ),
    ]
    await db.commit()
    return World(admin, alice, bob, carol, dave, g1.id, g2.id, events[::-1])


async def actions_of(db: AsyncSession, actor: User | None, filters: AuditFilter) -> list[str]:
    page = await trail.list_events(db, actor, filters, limit=200)
    return [event.action for event in page.events]


async def test_site_admin_pages_through_everything_newest_first(
    db: AsyncSession, world: World
) -> None:
    seen: list[uuid.UUID] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await trail.list_events(db, world.admin, AuditFilter(), cursor=cursor, limit=3)
        assert page.total == len(world.events) and not page.total_capped
        seen.extend(event.id for event in page.events)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3
    assert seen == [event.id for event in world.events]


async def test_an_exactly_full_last_page_has_no_next_cursor(db: AsyncSession, world: World) -> None:
    page = await trail.list_events(db, world.admin, AuditFilter(), limit=len(world.events))
    assert len(page.events) == len(world.events) and page.next_cursor is None
    first = await trail.list_events(db, world.admin, AuditFilter(), limit=4)
    rest = await trail.list_events(
        db, world.admin, AuditFilter(), cursor=first.next_cursor, limit=4
    )
    assert [e.id for e in first.events + rest.events] == [e.id for e in world.events]
    assert rest.next_cursor is None


async def test_entries_with_the_same_timestamp_are_neither_lost_nor_repeated(
    db: AsyncSession, world: World
) -> None:
    same = T0 + timedelta(days=10)
    for n in range(5):
        add_event(db, "tool.enable", same, actor=world.admin, tool=f"t{n}")
    await db.commit()
    ids: list[uuid.UUID] = []
    cursor: str | None = None
    while True:
        page = await trail.list_events(
            db, world.admin, AuditFilter(action="tool.enable"), cursor=cursor, limit=2
        )
        ids.extend(e.id for e in page.events)
        if (cursor := page.next_cursor) is None:
            break
    assert len(ids) == 5 and len(set(ids)) == 5


async def test_filters(db: AsyncSession, world: World) -> None:
    admin = world.admin
    assert await actions_of(db, admin, AuditFilter(actor="ALICE@")) == [
        "document.delete",
        "document.upload",
        "auth.sign_in",
    ]
    assert await actions_of(db, admin, AuditFilter(actor=str(world.bob.id))) == ["auth.sign_out"]
    assert await actions_of(db, admin, AuditFilter(actor="nobody@x")) == ["auth.sign_in_failed"]
    # LIKE wildcards in the filter match only themselves.
    assert await actions_of(db, admin, AuditFilter(actor="%")) == []
    assert await actions_of(db, admin, AuditFilter(actor="_lice")) == []

    assert await actions_of(db, admin, AuditFilter(action="auth.sign_in")) == ["auth.sign_in"]
    expected_auth = ["auth.sign_out", "auth.sign_in_failed", "auth.sign_in"]
    assert await actions_of(db, admin, AuditFilter(action="auth.")) == expected_auth
    assert await actions_of(db, admin, AuditFilter(action="auth.*")) == expected_auth
    assert await actions_of(db, admin, AuditFilter(action="auth")) == []

    by_resource = AuditFilter(resource_type="document", resource_id="doc-1")
    assert await actions_of(db, admin, by_resource) == ["document.delete", "document.upload"]
    assert await actions_of(db, admin, AuditFilter(resource_type="invitation")) == [
        "invitation.create"
    ]
    assert await actions_of(db, admin, AuditFilter(group_id=world.g1)) == [
        "invitation.create",
        "group.create",
    ]

    day2 = (T0 + timedelta(days=1)).date()
    assert await actions_of(db, admin, AuditFilter(start=day2, end=day2)) == [
        "group.create",
        "document.upload",
    ]
    assert await actions_of(db, admin, AuditFilter(start=(T0 + timedelta(days=3)).date())) == [
        "document.delete",
        "auth.sign_out",
    ]
    assert await actions_of(db, admin, AuditFilter(end=T0.date())) == [
        "auth.sign_in_failed",
        "auth.sign_in",
    ]
    combined = AuditFilter(actor="alice", action="document.", end=day2)
    assert await actions_of(db, admin, combined) == ["document.upload"]


async def test_count_is_capped_on_big_results(
    db: AsyncSession, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trail, "COUNT_CAP", 5)
    page = await trail.list_events(db, world.admin, AuditFilter(), limit=2)
    assert (page.total, page.total_capped) == (5, True)
    small = await trail.list_events(db, world.admin, AuditFilter(action="auth."), limit=2)
    assert (small.total, small.total_capped) == (3, False)


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        (AuditFilter(action="DROP TABLE;"), "action"),
        (AuditFilter(action="a" * 65), "action"),
        (AuditFilter(resource_type="Document!"), "resource_type"),
        (AuditFilter(resource_id="x" * 65), "resource_id"),
        (AuditFilter(actor="a" * 255), "actor"),
        (AuditFilter(start=date(2025, 2, 2), end=date(2025, 2, 1)), "end"),
    ],
)
async def test_bad_filters_are_refused(
    db: AsyncSession, world: World, filters: AuditFilter, field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await trail.list_events(db, world.admin, filters)
    assert field in caught.value.fields


async def test_bad_paging_and_text_params_are_refused(db: AsyncSession, world: World) -> None:
    for limit in (0, trail.PAGE_SIZE_MAX + 1):
        with pytest.raises(ValidationFailed) as caught:
            await trail.list_events(db, world.admin, AuditFilter(), limit=limit)
        assert "limit" in caught.value.fields
    for cursor in ("not-a-cursor", "Zm9vfGJhcg"):
        with pytest.raises(ValidationFailed) as caught:
            await trail.list_events(db, world.admin, AuditFilter(), cursor=cursor)
        assert "cursor" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        AuditFilter.from_params(start="31/01/2025", end="tomorrow", group_id="g1")
    assert set(caught.value.fields) == {"start", "end", "group_id"}
    parsed = AuditFilter.from_params(
        actor=" alice ", action="Auth.", start="2025-03-10", group_id=str(world.g1)
    )
    assert parsed == AuditFilter(
        actor="alice", action="auth.", start=date(2025, 3, 10), group_id=world.g1
    )


async def test_who_may_read_the_log(db: AsyncSession, world: World) -> None:
    g1_only = AuditFilter(group_id=world.g1)
    assert len(await actions_of(db, world.admin, AuditFilter())) == len(world.events)
    # A group admin reads their own group's entries, and only when asking for that group.
    assert await actions_of(db, world.carol, g1_only) == ["invitation.create", "group.create"]
    narrowed = AuditFilter(group_id=world.g1, action="group.")
    assert await actions_of(db, world.carol, narrowed) == ["group.create"]
    refused: list[tuple[User | None, AuditFilter, type[Exception]]] = [
        (world.carol, AuditFilter(), Forbidden),
        (world.carol, AuditFilter(group_id=world.g2), Forbidden),
        (world.dave, g1_only, Forbidden),
        (world.bob, g1_only, Forbidden),  # a plain member
        (world.alice, g1_only, Forbidden),  # not in the group at all
        (world.alice, AuditFilter(), Forbidden),
        (None, AuditFilter(), AuthenticationFailed),
    ]
    for actor, filters, error in refused:
        with pytest.raises(error):
            await trail.list_events(db, actor, filters)
        with pytest.raises(error):
            await anext(aiter(trail.export_csv(db, actor, filters)))

    # Deactivated: neither a site admin nor a group admin keeps access.
    second_admin = await register(db, "erin")
    await users_admin.set_role(db, world.admin, second_admin.id, "admin")
    await users_admin.set_active(db, world.admin, second_admin.id, False)
    await users_admin.set_active(db, world.admin, world.carol.id, False)
    for actor, filters in ((second_admin, AuditFilter()), (world.carol, g1_only)):
        with pytest.raises(AuthenticationFailed):
            await trail.list_events(db, actor, filters)


async def read_csv(lines: AsyncIterator[str]) -> list[list[str]]:
    text = "".join([line async for line in lines])
    return list(csv.reader(io.StringIO(text)))


async def test_csv_export_streams_every_match_in_batches(
    db: AsyncSession, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trail, "EXPORT_BATCH", 3)
    rows = await read_csv(trail.export_csv(db, world.admin, AuditFilter()))
    assert rows[0] == list(trail.CSV_COLUMNS)
    body = rows[1:]
    assert [row[3] for row in body] == [e.action for e in world.events]
    upload = next(row for row in body if row[3] == "document.upload")
    assert upload[:6] == [
        (T0 + timedelta(days=1)).isoformat(),
        "alice@example.com",
        str(world.alice.id),
        "document.upload",
        "document",
        "doc-1",
    ]
    assert upload[8] == '{"name": "plan.pdf"}'

    only_g1 = await read_csv(trail.export_csv(db, world.carol, AuditFilter(group_id=world.g1)))
    assert [row[3] for row in only_g1[1:]] == ["invitation.create", "group.create"]
    assert all(row[6] == str(world.g1) for row in only_g1[1:])


async def test_csv_cells_cannot_run_as_formulas(db: AsyncSession, world: World) -> None:
    await db.execute(delete(AuditEvent))
    add_event(
        db,
        "auth.sign_in_failed",
        T0,
        email='=HYPERLINK("http://evil")',
        resource=("document", "+SUM(A1)"),
        ip="-1+1",
    )
    add_event(db, "auth.sign_in_failed", T0 + timedelta(seconds=1), email="@cmd", ip="\tx")
    await db.commit()
    rows = await read_csv(trail.export_csv(db, world.admin, AuditFilter()))
    newer, older = rows[1], rows[2]
    assert newer[1] == "'@cmd" and newer[7] == "'\tx"
    assert older[1] == '\'=HYPERLINK("http://evil")'
    assert older[5] == "'+SUM(A1)" and older[7] == "'-1+1"
    for row in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for cell in row)
    assert trail.neutralise("plain") == "plain"


async def test_export_is_itself_audited(db: AsyncSession, world: World) -> None:
    filters = AuditFilter(group_id=world.g1, action="group.")
    await trail.begin_export(db, world.carol, filters, RequestContext("10.1.2.3"))
    event = await db.scalar(select(AuditEvent).where(col(AuditEvent.action) == "audit.export"))
    assert event is not None
    assert (event.actor_id, event.ip, event.group_id) == (world.carol.id, "10.1.2.3", world.g1)
    assert event.details == {"filters": {"action": "group.", "group_id": str(world.g1)}}


def test_every_recorded_action_is_offered_in_the_filter() -> None:
    """The action select lists every action the code records (kept honest by reading it)."""
    root = Path(trail.__file__).resolve().parents[1]
    recorded: set[str] = set()
    for path in root.rglob("*.py"):
        source = path.read_text()
        for match in re.finditer(r"audit\.record\(\s*\w+,\s*(.+?),", source, re.S):
            recorded.update(re.findall(r'"([a-z_]+\.[a-z_]+)"', match.group(1)))
    assert "auth.sign_in" in recorded and "document.upload" in recorded
    assert recorded <= set(trail.known_actions()), recorded - set(trail.known_actions())
    choices = trail.action_choices()
    assert choices.index("auth.") < choices.index("auth.sign_in")


# ---- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
async def client(engine: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


async def sign_in(client: httpx.AsyncClient, db: AsyncSession, user: User) -> None:
    code = await sessions.begin(db, user)
    response = await client.post("/auth/session", json={"code": code}, headers={"origin": BASE})
    assert response.status_code == 200


async def test_csv_download_over_http(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    url = "/api/admin/audit.csv"
    assert (await client.get(url)).status_code == 401

    _, alice_key = await api_keys.create(db, world.alice, "k")
    alice_auth = {"authorization": f"Bearer {alice_key}"}
    assert (await client.get(url, headers=alice_auth)).status_code == 403

    _, admin_key = await api_keys.create(db, world.admin, "k")
    response = await client.get(
        url,
        params={"action": "auth.", "end": T0.date().isoformat()},
        headers={"x-api-key": admin_key},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert re.fullmatch(
        r'attachment; filename="audit-\d{8}-\d{6}\.csv"', response.headers["content-disposition"]
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == list(trail.CSV_COLUMNS)
    assert [row[3] for row in rows[1:]] == ["auth.sign_in_failed", "auth.sign_in"]
    assert admin_key not in response.text

    bad = await client.get(url, params={"start": "yesterday"}, headers={"x-api-key": admin_key})
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"start"}

    # A group admin signed in with the browser cookie: their group only.
    await sign_in(client, db, world.carol)
    assert (await client.get(url)).status_code == 403
    assert (await client.get(url, params={"group_id": str(world.g2)})).status_code == 403
    mine = await client.get(url, params={"group_id": str(world.g1)})
    assert mine.status_code == 200
    mine_rows = list(csv.reader(io.StringIO(mine.text)))[1:]
    # The export is recorded before it streams, so it lists itself.
    assert [row[3] for row in mine_rows] == ["audit.export", "invitation.create", "group.create"]

    exports = await db.scalars(
        select(AuditEvent.actor_email).where(col(AuditEvent.action) == "audit.export")
    )
    assert sorted(exports) == ["admin@example.com", "carol@example.com"]


async def test_group_activity_rows_for_the_group_page(world: World) -> None:
    rows = await group_activity_rows(world.carol, world.g1, limit=1)
    assert rows == [
        {
            "id": str(world.events[3].id),
            "time": "2025-03-12T12:00:00Z",  # the page shows it in the browser's zone
            "actor": "carol@example.com",
            "action": "invitation.create",
            "resource_type": "invitation",
            "resource_id": "inv-1",
            "ip": "",
            "details": "",
        }
    ]
    with pytest.raises(Forbidden):
        await group_activity_rows(world.alice, world.g1)
    assert export_href({"actor": "a@b.c", "action": "", "group_id": str(world.g1)}) == (
        f"/api/admin/audit.csv?actor=a%40b.c&group_id={world.g1}"
    )
    assert export_href({"actor": ""}) == "/api/admin/audit.csv"
    assert trail.details_text({"name": "plan.pdf", "size": 3, "keys": ["A"]}) == (
        'name=plan.pdf, size=3, keys=["A"]'
    )
