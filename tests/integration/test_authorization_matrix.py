"""Authorization matrix: every Reflex event handler and every REST endpoint, by every actor.

The rows are in authz_matrix_rows.py and the world they act on in authz_matrix_world.py. The
coverage tests fail when a handler or an endpoint has no row, or a row names one that is gone;
each executed row runs for every actor on a real database (SQLite, and PostgreSQL when it
answers) and compares what each actor observably got with the row's expectation.

State handlers run on the real Reflex state tree, outside a running app: the router data a
browser's event carries (with the actor's session cookie) goes on the root state, as Reflex's
event processor puts it there, and each handler's function is called as the processor calls it
(coroutines awaited, generators drained, background handlers on the plain state, where
`async with self` holds nothing). A last test checks that signing out leaves nothing of what the
tab showed in its state, which Reflex would send again on the tab's next page load.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, cast

import httpx
import pytest
import reflex as rx
from fastapi import FastAPI
from fastapi.routing import APIRoute
from reflex.state import BaseState
from reflex_base.event import EventSpec
from starlette.routing import BaseRoute, Mount, Route

import youworker.state
from tests.integration.api_v1_support import BASE, assert_error, bearer
from tests.integration.authz_matrix_rows import (
    OK,
    REFUSED,
    REST_ROWS,
    SIGN_IN,
    STATE_ROWS,
    Call,
    Case,
    Cell,
    MatrixEmbedder,
    Reply,
    redirect_target,
)
from tests.integration.authz_matrix_world import (
    ACTORS,
    API_KEY,
    QUESTION,
    REST_ACTORS,
    Matrix,
    Person,
    World,
    fill,
    matrix,
    matrix_database,
    matrix_engine,
)
from youworker.api.app import create_api
from youworker.api.v1 import providers
from youworker.services import sessions
from youworker.state.account import AccountState
from youworker.state.chat import ChatState
from youworker.state.document_view import DocumentViewState
from youworker.state.session import SessionState

__all__ = ["matrix", "matrix_database", "matrix_engine"]  # fixtures used here

ORIGIN = "http://localhost:3000"


def state_classes() -> dict[str, type[BaseState]]:
    """Every state class of youworker.state, from Reflex's own class tree (mixins left out)."""
    for module in pkgutil.walk_packages(youworker.state.__path__, "youworker.state."):
        importlib.import_module(module.name)
    found: dict[str, type[BaseState]] = {}
    pending: list[type[BaseState]] = [rx.State]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("youworker.state.") and not sub._mixin:
                assert found.setdefault(sub.__name__, sub) is sub, f"two states named {sub}"
    return found


def state_handlers() -> set[str]:
    """`Class.handler` for every event handler the app's states define (Reflex's own left out)."""
    builtin = set(rx.State.event_handlers)
    return {
        f"{name}.{handler}"
        for name, cls in state_classes().items()
        for handler in cls.event_handlers
        if handler not in builtin
    }


def routes(api: FastAPI) -> Iterator[tuple[BaseRoute, str]]:
    """Every route with its full path, through FastAPI's included routers (kept lazily since
    0.165: `api.routes` holds them unexpanded)."""
    for route in api.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            yield route, str(getattr(route, "path", ""))
        else:
            yield from ((context.original_route, context.path) for context in contexts())


def api_endpoints(api: FastAPI) -> set[str]:
    """`METHOD path` for every route of the REST app (HEAD is GET without a body)."""
    found: set[str] = set()
    for route, path in routes(api):
        if isinstance(route, Mount):
            found.add(f"MOUNT {path}")
        elif isinstance(route, APIRoute | Route):
            found.update(f"{method} {path}" for method in route.methods or () if method != "HEAD")
        else:
            raise AssertionError(f"a route of a kind the matrix does not know: {route!r}")
    return found


def row_name(key: str) -> str:
    """`ChatState.send[new chat]` -> `ChatState.send`: variants of one handler (or endpoint)
    share its name."""
    return key.split("[", 1)[0]


def test_every_state_handler_has_a_row_and_every_row_a_handler() -> None:
    handlers = state_handlers()
    named = {row_name(key) for key in STATE_ROWS}
    assert sorted(handlers - named) == [], "handlers without a row in STATE_ROWS"
    assert sorted(named - handlers) == [], "rows of STATE_ROWS whose handler is gone"


def test_every_endpoint_has_a_row_and_every_row_an_endpoint() -> None:
    endpoints = api_endpoints(create_api())
    named = {row_name(key) for key in REST_ROWS}
    assert sorted(endpoints - named) == [], "endpoints without a row in REST_ROWS"
    assert sorted(named - endpoints) == [], "rows of REST_ROWS whose endpoint is gone"


def test_rows_name_every_actor() -> None:
    for key, row in STATE_ROWS.items():
        if isinstance(row, Case):
            assert len(row.expect) == len(ACTORS), key
    for key, call in REST_ROWS.items():
        if isinstance(call, Call):
            assert len(call.expect) == len(REST_ACTORS), key


# ---- running state handlers --------------------------------------------------------------------


def router_data(url: str, person: Person | None) -> dict[str, Any]:
    """What a browser's event carries: the page, the client, and the actor's session cookie."""
    headers = {"origin": ORIGIN, "host": "localhost:3000", "user-agent": "matrix-test"}
    if person is not None:
        headers["cookie"] = f"{sessions.COOKIE_NAME}={person.session}"
    return {
        "token": f"client-{uuid.uuid4().hex}",
        "sid": f"sid-{uuid.uuid4().hex}",
        "ip": "127.0.0.1",
        "headers": headers,
        "pathname": url.split("?", 1)[0],
        "asPath": url,
    }


def new_tab() -> BaseState:
    """A fresh state tree, as Reflex's state manager makes one for each browser tab."""
    root: Any = rx.State
    return cast(BaseState, root(_reflex_internal_init=True))


def signed_in(state: BaseState) -> bool:
    return bool(getattr(state, "signed_in", False))


def resolve(arg: Any, world: World) -> Any:
    return arg(world) if callable(arg) else fill(arg, world.names())


def flatten(produced: Any) -> Iterator[EventSpec]:
    if isinstance(produced, list | tuple):
        for item in produced:
            yield from flatten(item)
    elif isinstance(produced, EventSpec):
        yield produced


async def invoke(state: BaseState, name: str, args: Sequence[Any]) -> list[EventSpec]:
    """Call a handler as Reflex's processor does; the events it returned or yielded."""
    result = type(state).event_handlers[name].fn(state, *args)
    if inspect.isawaitable(result):
        result = await result
    if inspect.isasyncgen(result):
        result = [event async for event in result]
    elif inspect.isgenerator(result):
        result = list(result)
    return list(flatten(result))


async def act(matrix: Matrix, cls: type[BaseState], name: str, case: Case, actor: str) -> str:
    """One actor's cell of a state row: the outcome observed."""
    world = matrix.world
    if matrix.dirty:
        await matrix.restore()
    await matrix.fresh_runs()
    observed = "not run"
    try:
        if case.setup is not None:
            await case.setup(matrix)
        root = new_tab()
        page = fill(case.page, world.names())
        root.router_data = root._update_router_vars(router_data(page, world.person(actor)), {})
        events: list[EventSpec] = []
        for step in case.before:
            if callable(step):
                await step(root)
            else:
                step_cls, step_name, step_args = step
                target = await root.get_state(step_cls)
                events += await invoke(target, step_name, [resolve(a, world) for a in step_args])
        state = await root.get_state(cls)
        for var, value in case.preset.items():
            setattr(state, var, value(world))
        try:
            events += await invoke(state, name, [resolve(a, world) for a in case.args])
        except Exception as exc:  # recorded as the cell's outcome, so every actor still runs
            observed = f"raised {type(exc).__name__}: {exc}"
            return observed
        effect = await case.effect(Cell(matrix, actor, state, events))
        if effect is True:
            observed = OK
        elif isinstance(effect, str):
            observed = effect
        elif (redirect_target(events) or "").startswith("/login") and not signed_in(state):
            observed = SIGN_IN
        else:
            observed = REFUSED
        return observed
    finally:
        await matrix.stop_runs()
        if case.setup is not None or (case.writes and observed not in (REFUSED, SIGN_IN)):
            matrix.dirty = True


STATE_CASES = sorted(key for key, row in STATE_ROWS.items() if isinstance(row, Case))


@pytest.mark.parametrize("key", STATE_CASES)
async def test_state_handler(matrix: Matrix, key: str) -> None:
    case = STATE_ROWS[key]
    assert isinstance(case, Case)
    class_name, handler = row_name(key).split(".")
    cls = state_classes()[class_name]
    wrong = []
    for actor, expected in zip(ACTORS, case.expect, strict=True):
        observed = await act(matrix, cls, handler, case, actor)
        if observed != expected:
            wrong.append(f"{actor}: expected {expected}, got {observed}")
    assert not wrong, f"{key}: " + "; ".join(wrong)


# ---- running REST endpoints --------------------------------------------------------------------


@pytest.fixture
async def client(matrix: Matrix) -> AsyncIterator[httpx.AsyncClient]:
    """The REST app, its answers written by the scripted model and searches by MatrixEmbedder."""
    api = create_api()
    api.dependency_overrides[providers.chat_runs] = matrix.chat_runs
    api.dependency_overrides[providers.embedder] = MatrixEmbedder
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


def credentials(world: World, actor: str, v1: bool) -> tuple[dict[str, str], uuid.UUID | None]:
    """The headers an actor sends (a JWT under /api/v1, the session cookie elsewhere) and whose
    they are; `api_key` is the other user's valid personal key."""
    if actor == API_KEY:
        return {"x-api-key": world.other_key}, world.people["other"].id
    person = world.person(actor)
    if person is None:
        return {}, None
    if v1:
        return bearer(person.jwt), person.id
    return {"cookie": f"{sessions.COOKIE_NAME}={person.session}"}, person.id


def refusal(response: httpx.Response, v1: bool) -> str:
    """`<status> <code>` for the API's JSON error (its shape checked), `<status>` for the older
    routes' `{"detail": ...}`; anything else is shown as it came."""
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} {response.text[:80]!r}"
    if v1 or "error" in body:
        code = str(body.get("error", {}).get("code"))
        assert_error(response, response.status_code, code)
        return f"{response.status_code} {code}"
    return str(response.status_code) if "detail" in body else f"{response.status_code} {body}"


async def request(
    matrix: Matrix, client: httpx.AsyncClient, key: str, call: Call, actor: str
) -> str:
    """One actor's cell of a REST row: the outcome observed."""
    world = matrix.world
    if matrix.dirty:
        await matrix.restore()
    await matrix.fresh_runs()
    observed = "not run"
    try:
        if call.setup is not None:
            await call.setup(matrix)
        url = fill(call.url, world.names())
        v1 = url.startswith("/api/v1/")
        headers, acting_id = credentials(world, actor, v1)
        response = await client.request(
            row_name(key).split(" ", 1)[0],
            url,
            headers={**call.headers, **headers},
            json=fill(call.json, world.names()),
            files=call.files() if call.files else None,
        )
        changed = await call.effect(Reply(matrix, acting_id, response))
        if response.is_success:
            observed = OK if changed else "empty"
        else:
            observed = refusal(response, v1) + (" yet took effect" if changed else "")
        return observed
    finally:
        await matrix.stop_runs()
        writes = call.setup is not None or not key.startswith("GET ")
        if writes and (observed == OK or "effect" in observed):
            matrix.dirty = True


REST_CASES = sorted(key for key, row in REST_ROWS.items() if isinstance(row, Call))


@pytest.mark.parametrize("key", REST_CASES)
async def test_rest_endpoint(matrix: Matrix, client: httpx.AsyncClient, key: str) -> None:
    call = REST_ROWS[key]
    assert isinstance(call, Call)
    wrong = []
    for actor, expected in zip(REST_ACTORS, call.expect, strict=True):
        observed = await request(matrix, client, key, call, actor)
        if observed != expected:
            wrong.append(f"{actor}: expected {expected}, got {observed}")
    assert not wrong, f"{key}: " + "; ".join(wrong)


async def test_sign_out_forgets_what_the_tab_showed(matrix: Matrix) -> None:
    """Reflex sends a tab's whole state tree again on its next page load (hydrate): after
    signing out, nothing the owner saw may be in it for whoever uses that tab next."""
    await matrix.restore()
    await matrix.fresh_runs()
    world, owner = matrix.world, matrix.world.people["owner"]
    root = new_tab()
    for page, cls in (
        (f"/chat/{world.conversation_id}", ChatState),
        (f"/documents/{world.document_id}", DocumentViewState),
        ("/account", AccountState),
    ):
        root.router_data = root._update_router_vars(router_data(page, owner), {})
        await invoke(await root.get_state(cls), "load", ())
    shown = str(root.dict())
    assert all(text in shown for text in (QUESTION, "plan.txt", owner.email))

    events = await invoke(await root.get_state(SessionState), "sign_out", ())

    assert any("/auth/logout" in str(value) for spec in events for _, value in spec.args)
    left = str(root.dict())
    assert [text for text in (QUESTION, "plan.txt", owner.email) if text in left] == []
