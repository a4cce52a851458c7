"""The security middleware stack over real ASGI requests: origin, CSRF, CORS, IP allow-list,
headers and body limits, around the same FastAPI app Reflex mounts plus stand-ins for Reflex's own
`/_event` websocket and `/_upload` endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import socketio
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import ASGIApp
from starlette.websockets import WebSocket, WebSocketDisconnect

from youworker.api import csrf
from youworker.api.app import create_api
from youworker.api.middleware import asgi_middleware, guard_socketio
from youworker.models import User
from youworker.services import api_keys, sessions
from youworker.settings import Settings, SettingsError, load_settings

BASE = "http://testserver"
SAME_ORIGIN = {"origin": BASE}
EVIL = {"origin": "https://evil.example"}
PARTNER = "https://partner.example"


async def _things(request: Request) -> Response:
    body = await request.body()
    client = request.client.host if request.client else None
    return JSONResponse({"method": request.method, "bytes": len(body), "client": client})


async def _page(request: Request) -> Response:
    return PlainTextResponse("<html>admin</html>", media_type="text/html")


async def _framed(request: Request) -> Response:
    return PlainTextResponse(
        "x", headers={"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "sandbox"}
    )


async def _event(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


def _inner() -> ASGIApp:
    """Reflex's layout in small: our FastAPI routes, an unsafe /api route, /_upload, /_event."""
    return Starlette(
        routes=[
            Route("/api/things", _things, methods=["GET", "POST", "DELETE"]),
            Route("/_upload", _things, methods=["POST"]),
            Route("/admin/users", _page),
            Route("/framed", _framed),
            WebSocketRoute("/_event", _event),
            Mount("", create_api()),
        ]
    )


def _settings(**security: Any) -> Settings:
    return load_settings(security=security)


def _stack(settings: Settings, app: ASGIApp | None = None) -> ASGIApp:
    """Wrap the way Reflex applies api_transformer: each entry around what came before."""
    wrapped = app or _inner()
    for middleware in asgi_middleware(settings):
        wrapped = middleware(wrapped)
    return wrapped


def _client(settings: Settings, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_stack(settings), client=(ip, 4711))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


@pytest.fixture
async def client(engine: object) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(_settings()) as http:
        yield http


@pytest.fixture
def ws_client() -> Iterator[TestClient]:
    with TestClient(_stack(_settings(cors_allowed_origins=PARTNER)), base_url=BASE) as test:
        yield test


async def _sign_in(client: httpx.AsyncClient, db: AsyncSession, user: User) -> str:
    """Sign in through the real hand-off route; returns the CSRF token cookie it set."""
    code = await sessions.begin(db, user)
    response = await client.post("/auth/session", json={"code": code}, headers=SAME_ORIGIN)
    assert response.status_code == 200
    return client.cookies[csrf.COOKIE_NAME]


def _error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


# --- websocket origin (cross-site websocket hijacking) ---


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://testserver.evil.example"},
        {"origin": "null"},
        {"origin": "http://testserver:8080"},
    ],
)
def test_foreign_origin_websocket_is_closed_before_accept(
    ws_client: TestClient, headers: dict[str, str]
) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        ws_client.websocket_connect("/_event", headers=headers),
    ):
        pass
    assert refused.value.code == 1008


@pytest.mark.parametrize("origin", [BASE, "HTTP://TestServer:80", PARTNER, None])
def test_same_or_listed_origin_websocket_is_accepted(
    ws_client: TestClient, origin: str | None
) -> None:
    headers = {"origin": origin} if origin else {}
    with ws_client.websocket_connect("/_event", headers=headers) as ws:
        assert ws.receive_text() == "hello"


def test_public_url_counts_as_this_host_behind_a_proxy_that_rewrites_host() -> None:
    settings = load_settings(api={"public_url": "https://yw.example.com/"})
    with TestClient(_stack(settings), base_url="http://127.0.0.1:3000") as test:
        with test.websocket_connect("/_event", headers={"origin": "https://yw.example.com"}) as ws:
            assert ws.receive_text() == "hello"
        with pytest.raises(WebSocketDisconnect), test.websocket_connect("/_event", headers=EVIL):
            pass


def test_socketio_itself_applies_the_same_origin_rule() -> None:
    """Reflex gives socket.io the CORS list; with it alone our own page would be refused."""
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[PARTNER])
    guard_socketio(sio, _settings(cors_allowed_origins=PARTNER))
    path = "/socket.io/?EIO=4&transport=websocket"
    upgrade = {"upgrade": "websocket"}  # engine.io checks it; TestClient leaves it out
    with TestClient(socketio.ASGIApp(sio), base_url=BASE) as test:
        for origin in (BASE, PARTNER):
            with test.websocket_connect(path, headers={**upgrade, "origin": origin}) as ws:
                assert ws.receive_text().startswith("0{")  # engine.io OPEN packet
        with (
            pytest.raises(WebSocketDisconnect),
            test.websocket_connect(path, headers={**upgrade, **EVIL}) as ws,
        ):
            ws.receive_text()


# --- origin check on state-changing requests ---


async def test_cross_site_posts_with_the_session_cookie_are_refused(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    await _sign_in(client, db, alice)
    for path in ("/auth/logout", "/_upload", "/api/things"):
        for headers in (EVIL, {"referer": "https://evil.example/page"}, {}):
            response = await client.post(path, headers=headers)
            assert response.status_code == 403, (path, headers)
            assert _error_code(response) == "forbidden"
    # Still signed in: the refused logout never reached the route.
    token = client.cookies[sessions.COOKIE_NAME]
    assert await sessions.resolve(db, token, alice_ttl()) is not None

    upload = await client.post("/_upload", content=b"file", headers=SAME_ORIGIN)
    assert upload.status_code == 200  # Reflex's upload from our own page keeps working
    by_referer = await client.post("/_upload", headers={"referer": f"{BASE}/documents"})
    assert by_referer.status_code == 200


def alice_ttl() -> Any:
    from youworker.settings import get_settings

    return get_settings().security.session_ttl


async def test_sign_in_hand_off_is_refused_from_another_site(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    code = await sessions.begin(db, alice)
    response = await client.post("/auth/session", json={"code": code}, headers=EVIL)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    anonymous = await client.post("/api/things", headers=EVIL)
    assert anonymous.status_code == 403  # a named foreign origin is refused even without cookie


# --- CSRF tokens ---


async def test_csrf_token_is_required_for_cookie_authenticated_api_calls(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    token = await _sign_in(client, db, alice)
    assert len(token) >= 32

    missing = await client.post("/api/things", headers=SAME_ORIGIN)
    assert missing.status_code == 403
    assert _error_code(missing) == "csrf_failed"
    wrong = await client.delete("/api/things", headers={**SAME_ORIGIN, "x-csrf-token": "x" + token})
    assert wrong.status_code == 403
    assert _error_code(wrong) == "csrf_failed"

    right = await client.post("/api/things", headers={**SAME_ORIGIN, "x-csrf-token": token})
    assert right.status_code == 200
    assert right.json()["method"] == "POST"

    issued = await client.get("/auth/csrf")
    assert issued.json() == {"csrf_token": token}
    assert (await client.get("/api/things", headers=EVIL)).status_code == 200  # reads: no token

    await client.post("/auth/logout", headers=SAME_ORIGIN)
    assert csrf.COOKIE_NAME not in client.cookies


async def test_csrf_cookie_is_readable_by_the_page_and_same_site(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    code = await sessions.begin(db, alice)
    response = await client.post("/auth/session", json={"code": code}, headers=SAME_ORIGIN)
    cookies = response.headers.get_list("set-cookie")
    (csrf_cookie,) = [c for c in cookies if c.startswith(f"{csrf.COOKIE_NAME}=")]
    assert "HttpOnly" not in csrf_cookie and "SameSite=lax" in csrf_cookie
    fresh = await client.get("/auth/csrf", headers={"cookie": ""})
    assert len(fresh.json()["csrf_token"]) >= 32


async def test_bearer_and_api_key_clients_skip_origin_and_csrf(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    _, key = await api_keys.create(db, alice, "script")
    for headers in ({"authorization": f"Bearer {key}"}, {"x-api-key": key}):
        response = await client.post("/api/things", headers={**EVIL, **headers})
        assert response.status_code == 200, headers
    # With the session cookie along, it is a browser again: both checks apply.
    await _sign_in(client, db, alice)
    mixed = await client.post("/api/things", headers={**EVIL, "authorization": f"Bearer {key}"})
    assert mixed.status_code == 403


# --- CORS ---


async def test_cors_preflight_only_for_listed_origins() -> None:
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-api-key",
    }
    async with _client(_settings(cors_allowed_origins=PARTNER)) as http:
        allowed = await http.options("/api/things", headers={"origin": PARTNER, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == PARTNER
        assert allowed.headers["access-control-allow-credentials"] == "true"

        refused = await http.options("/api/things", headers={**EVIL, **preflight})
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers

        simple = await http.get("/health", headers=EVIL)
        assert "access-control-allow-origin" not in simple.headers
    async with _client(_settings()) as http:  # empty list: same origin only
        refused = await http.options("/api/things", headers={"origin": PARTNER, **preflight})
        assert "access-control-allow-origin" not in refused.headers


# --- IP allow-list ---


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("10.1.2.3", True),
        ("::ffff:10.1.2.3", True),  # IPv4-mapped IPv6 is the IPv4 address
        ("2001:db8::5", True),
        ("192.168.1.1", False),
        ("::ffff:192.168.1.1", False),
        ("2001:db9::5", False),
        ("not-an-ip", False),
    ],
)
async def test_ip_allowlist_for_the_whole_app(ip: str, allowed: bool) -> None:
    settings = _settings(ip_allowlist="10.0.0.0/8, 2001:db8::/32")
    async with _client(settings, ip=ip) as http:
        response = await http.get("/health")
    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert _error_code(response) == "forbidden"


def test_ip_allowlist_closes_websockets_of_strangers() -> None:
    settings = _settings(ip_allowlist="10.0.0.0/8")
    stranger = TestClient(_stack(settings), base_url=BASE, client=("192.168.1.1", 1))
    with pytest.raises(WebSocketDisconnect), stranger.websocket_connect("/_event"):
        pass
    member = TestClient(_stack(settings), base_url=BASE, client=("10.0.0.7", 1))
    with member.websocket_connect("/_event") as ws:
        assert ws.receive_text() == "hello"


async def test_ip_allowlist_scope_admin_guards_admin_pages_api_and_detailed_health() -> None:
    settings = _settings(ip_allowlist="10.0.0.0/8", ip_allowlist_scope="admin")
    async with _client(settings, ip="192.168.1.1") as stranger:
        assert (await stranger.get("/health")).status_code == 200
        page = await stranger.get("/admin/users", headers={"accept": "text/html"})
        assert page.status_code == 403
        assert page.headers["content-type"].startswith("text/plain")
        assert (await stranger.post("/api/things")).status_code == 403
        assert (await stranger.get("/health/detailed")).status_code == 403
    async with _client(settings, ip="::ffff:10.9.9.9") as member:
        assert (await member.get("/admin/users")).status_code == 200
    stranger_ws = TestClient(_stack(settings), base_url=BASE, client=("192.168.1.1", 1))
    with stranger_ws.websocket_connect("/_event") as ws:  # every page needs the websocket
        assert ws.receive_text() == "hello"


async def test_forwarded_for_counts_only_behind_a_trusted_proxy() -> None:
    allow = {"ip_allowlist": "10.0.0.0/8"}
    forwarded = {"x-forwarded-for": "10.1.2.3"}
    async with _client(_settings(**allow), ip="192.168.1.1") as direct:
        assert (await direct.get("/health", headers=forwarded)).status_code == 403  # spoofed
    trusted = _settings(**allow, trusted_proxies="192.168.1.0/24")
    async with _client(trusted, ip="192.168.1.1") as proxied:
        assert (await proxied.get("/health", headers=forwarded)).status_code == 200
        seen = await proxied.get("/api/things", headers=forwarded)
        assert seen.json()["client"] == "10.1.2.3"  # routes (audit, rate limits) see the client
        chain = {"x-forwarded-for": "10.1.2.3, 172.16.0.9"}  # 172.16.0.9 is not trusted
        assert (await proxied.get("/health", headers=chain)).status_code == 403
        assert (
            await proxied.get("/health", headers={"x-forwarded-for": "junk"})
        ).status_code == 403


def test_bad_allowlist_entries_stop_the_start_with_a_clear_message() -> None:
    with pytest.raises(SettingsError, match=r"SECURITY__IP_ALLOWLIST.*'10\.0\.0\.300'"):
        _settings(ip_allowlist="10.0.0.0/8, 10.0.0.300")
    with pytest.raises(SettingsError, match=r"SECURITY__TRUSTED_PROXIES"):
        _settings(trusted_proxies="proxy.local")
    with pytest.raises(SettingsError, match=r"SECURITY__CORS_ALLOWED_ORIGINS.*'partner\.example'"):
        _settings(cors_allowed_origins="partner.example")
    settings = _settings(cors_allowed_origins=" HTTPS://Partner.Example:443/ ", ip_allowlist="::1")
    assert settings.security.cors_origins == (PARTNER,)


# --- security headers ---


async def test_security_headers_on_every_response_without_overriding_routes() -> None:
    async with _client(_settings()) as http:
        for response in (await http.get("/health"), await http.get("/nope")):
            headers = response.headers
            policy = headers["content-security-policy"]
            for directive in (
                "default-src 'self'",
                "frame-ancestors 'none'",
                "object-src 'none'",
                "base-uri 'self'",
                "img-src 'self' data: blob:",
                "connect-src 'self' ws://testserver wss://testserver",
            ):
                assert directive in policy
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
            assert headers["x-frame-options"] == "DENY"
            assert "camera=()" in headers["permissions-policy"]
        framed = await http.get("/framed")
        assert framed.headers["x-frame-options"] == "SAMEORIGIN"
        assert framed.headers["content-security-policy"] == "sandbox"
        refused = await http.post("/api/things", headers=EVIL)  # refusals carry them too
        assert refused.headers["x-frame-options"] == "DENY"
        odd_host = await http.get("/health", headers={"host": "a b;script-src *"})
        assert "script-src *" not in odd_host.headers["content-security-policy"]


# --- body limits ---


async def test_oversized_bodies_get_413_by_content_length_and_by_counting() -> None:
    settings = load_settings(
        security={"max_request_mb": 0.01}, documents={"max_upload_mb": 1}
    )  # ~10 KB requests, 1 MB per uploaded file
    small, big = b"x" * 5_000, b"x" * 20_000

    async def chunks(total: int) -> AsyncIterator[bytes]:
        for _ in range(total // 1000):
            yield b"y" * 1000

    async with _client(settings) as http:
        assert (
            await http.post("/api/things", content=small, headers=EVIL | {"x-api-key": "k"})
        ).json()["bytes"] == 5_000
        declared = await http.post("/api/things", content=big, headers={"x-api-key": "k"})
        assert declared.status_code == 413
        assert _error_code(declared) == "payload_too_large"

        streamed = await http.post(
            "/api/things", content=chunks(20_000), headers={"x-api-key": "k"}
        )
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413
        assert _error_code(streamed) == "payload_too_large"
        assert streamed.headers["x-content-type-options"] == "nosniff"

        fine = await http.post("/api/things", content=chunks(9_000), headers={"x-api-key": "k"})
        assert fine.json()["bytes"] == 9_000

        # Uploads get the per-file limit times the files a drop may hold.
        upload = await http.post("/_upload", content=chunks(2_000_000))
        assert upload.status_code == 200
        assert upload.json()["bytes"] == 2_000_000
