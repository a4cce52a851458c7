"""The admin system page's data: health, models, versions, settings without secrets."""

from __future__ import annotations

import platform
from importlib import metadata

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.models import User
from youworker.services import accounts, system_info, users_admin
from youworker.services.errors import AuthenticationFailed, Forbidden
from youworker.settings import get_settings, load_settings


async def test_only_active_site_admins(db: AsyncSession, admin: User, alice: User) -> None:
    with pytest.raises(Forbidden):
        await system_info.collect(db, alice)
    with pytest.raises(AuthenticationFailed):
        await system_info.collect(db, None)
    other = await accounts.register(
        db, email="root2@example.com", password="root2-password-1", display_name="Root Two"
    )
    await users_admin.set_role(db, admin, other.id, "admin")
    await users_admin.set_active(db, admin, other.id, False)
    with pytest.raises(AuthenticationFailed):
        await system_info.collect(db, other)


async def test_health_models_versions_and_settings(
    db: AsyncSession, admin: User, database_url: str
) -> None:
    info = await system_info.collect(db, admin)

    probes = {probe.name: probe for probe in info.probes}
    assert set(probes) == {"database", "vector_store", "llm", "redis", "ingestion"}
    assert probes["database"].status == "ok"
    assert probes["database"].latency_ms is not None and probes["database"].latency_ms >= 0
    assert probes["llm"].status == "degraded"  # nothing listens on the test Ollama URL
    assert info.status == "degraded"

    assert info.llm["mode"] == "auto"
    assert set(info.llm) == {"mode", "active", "model", "detail"}
    assert info.embedder["name"] and info.embedder["dimension"].isdigit()

    assert info.versions["Python"] == platform.python_version()
    assert info.versions["Reflex"] == metadata.version("reflex")
    assert info.versions["SQLAlchemy"] == metadata.version("sqlalchemy")
    assert info.versions["qdrant-client"] == metadata.version("qdrant-client")
    assert info.versions["YouWorker"] == metadata.version("youworker")
    server = "PostgreSQL " if database_url.startswith("postgresql") else "SQLite "
    assert info.versions["Database server"].startswith(server)
    assert info.versions["Ollama server"] == "unreachable"

    shown = dict(info.settings)
    assert shown["LLM__CHAT_MODEL"] == get_settings().llm.chat_model
    assert shown["SECURITY__ROOT_API_KEY"] == "set"
    everything = repr(info)
    for name in ("root_api_key", "jwt_secret", "chat_message_encryption_secret"):
        assert get_settings().secret(name) not in everything


def test_settings_never_show_secrets() -> None:
    settings = load_settings(
        database={"url": "postgresql://yw:db-pass-SECRET@db.internal:5432/yw"},
        security={
            "root_api_key": "root-key-SECRET-0123456789",
            "jwt_secret": "jwt-SECRET-0123456789",
        },
        mail={"smtp_host": "smtp.example.com", "smtp_password": "smtp-SECRET"},
        redis={"url": "redis://:redis-SECRET@cache:6379/0"},
        groups={"password_reset_ttl_hours": 12},
    )
    rows = system_info.settings_rows(settings)
    shown = dict(rows)
    assert len(shown) == len(rows)
    assert shown["DATABASE__URL"] == "postgresql://yw:***@db.internal:5432/yw"
    assert shown["REDIS__URL"] == "redis://:***@cache:6379/0"
    assert shown["SECURITY__ROOT_API_KEY"] == "set"
    assert shown["SECURITY__JWT_SECRET"] == "set"
    assert shown["MAIL__SMTP_PASSWORD"] == "set"
    assert shown["MAIL__SMTP_HOST"] == "smtp.example.com"
    # A number is not a secret even when its name says "password".
    assert shown["GROUPS__PASSWORD_RESET_TTL_HOURS"] == "12"
    assert shown["LLM__PROVIDER"] == "auto"
    text = repr(rows)
    for secret in (
        "db-pass-SECRET",
        "root-key-SECRET",
        "jwt-SECRET",
        "smtp-SECRET",
        "redis-SECRET",
    ):
        assert secret not in text
    encryption = settings.security.chat_message_encryption_secret
    assert encryption is not None and encryption.get_secret_value() not in text

    unset = dict(system_info.settings_rows(load_settings()))
    assert unset["MAIL__SMTP_PASSWORD"] == "not set"
    # An empty DATABASE__URL shows the SQLite file really used.
    assert unset["DATABASE__URL"].startswith("sqlite:///")


HARD_PASSWORDS = ("pa/ss", "p@ss", "p:ss", "a/b@c:d/@e", "//@@::", "p%2Fss", "pass/")


@pytest.mark.parametrize("password", HARD_PASSWORDS)
def test_mask_url_hides_passwords_with_url_characters(password: str) -> None:
    for url, masked in (
        (
            f"postgresql://yw:{password}@db.internal:5432/yw",
            "postgresql://yw:***@db.internal:5432/yw",
        ),
        (f"redis://:{password}@cache:6379/0", "redis://:***@cache:6379/0"),
        (f"http://user:{password}@gpu1:11434", "http://user:***@gpu1:11434"),
        (f"https://u:{password}@h", "https://u:***@h"),
    ):
        assert system_info.mask_url(url) == masked, url
    # The settings rows of the system page, as an operator would paste the URLs.
    settings = load_settings(
        database={"url": f"postgresql://yw:{password}@db.internal:5432/yw"},
        redis={"url": f"redis://:{password}@cache:6379/0"},
    )
    rows = system_info.settings_rows(settings)
    shown = dict(rows)
    assert shown["DATABASE__URL"] == "postgresql://yw:***@db.internal:5432/yw"
    assert shown["REDIS__URL"] == "redis://:***@cache:6379/0"
    assert f":{password}@" not in repr(rows)


def test_mask_url_hides_a_value_that_does_not_parse() -> None:
    assert system_info.mask_url("postgresql://u:secret@host:notaport/db").startswith("***")


def test_mask_url() -> None:
    assert system_info.mask_url("postgresql://u:p%40ss@h/db") == "postgresql://u:***@h/db"
    assert system_info.mask_url("http://127.0.0.1:11434/") == "http://127.0.0.1:11434/"
    assert system_info.mask_url("sqlite:////data/youworker.db") == "sqlite:////data/youworker.db"
