"""Settings: nested env names, development secrets kept, production refusing bad secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.pool import QueuePool

from youworker.db import create_engine_for
from youworker.settings import SettingsError, load_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (
        "SECURITY__ROOT_API_KEY",
        "SECURITY__JWT_SECRET",
        "SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_nested_variables_are_read(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE__URL", "postgresql://u:p@db:5432/yw")
    monkeypatch.setenv("DATABASE__ECHO", "true")
    monkeypatch.setenv("LLM__CHAT_MODEL", "qwen3:4b")
    monkeypatch.setenv("API__PORT", "8123")
    monkeypatch.setenv("API__LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.database.url == "postgresql://u:p@db:5432/yw"
    assert settings.database.echo is True
    assert settings.llm.chat_model == "qwen3:4b"
    assert settings.api.port == 8123
    assert settings.api.log_level == "DEBUG"


def test_env_file_is_read(clean_env: Path) -> None:
    (clean_env / ".env").write_text("LLM__EMBED_MODEL=nomic-embed-text\nAPI__HOST=0.0.0.0\n")
    settings = load_settings()
    assert settings.llm.embed_model == "nomic-embed-text"
    assert settings.api.host == "0.0.0.0"


def test_ollama_hosts_default_to_the_single_url(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM__OLLAMA_BASE_URL", "http://gpu0:11434/")
    monkeypatch.delenv("LLM__OLLAMA_BASE_URLS", raising=False)
    assert load_settings().llm.ollama_hosts == ["http://gpu0:11434"]
    monkeypatch.setenv("LLM__OLLAMA_BASE_URLS", "")
    assert load_settings().llm.ollama_hosts == ["http://gpu0:11434"]


@pytest.mark.parametrize(
    "value",
    [
        "http://gpu1:11434, http://gpu2:11434/,http://gpu1:11434",
        '["http://gpu1:11434", "http://gpu2:11434"]',
    ],
)
def test_ollama_hosts_list_comma_separated_or_json(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LLM__OLLAMA_BASE_URL", "http://gpu0:11434")
    monkeypatch.setenv("LLM__OLLAMA_BASE_URLS", value)
    assert load_settings().llm.ollama_hosts == ["http://gpu1:11434", "http://gpu2:11434"]


def test_ollama_hosts_list_from_the_env_file(clean_env: Path) -> None:
    (clean_env / ".env").write_text("LLM__OLLAMA_BASE_URLS=http://a:1,http://b:2\n")
    assert load_settings().llm.ollama_hosts == ["http://a:1", "http://b:2"]


def test_development_generates_secrets_once_and_keeps_them(clean_env: Path) -> None:
    first = load_settings(app_env="development")
    second = load_settings(app_env="development")
    for name in ("root_api_key", "jwt_secret", "chat_message_encryption_secret"):
        assert first.secret(name) == second.secret(name)
        assert len(first.secret(name)) >= 32
    Fernet(first.security.fernet_keys()[0])
    stored = clean_env / "data" / "dev-secrets.json"
    assert stored.stat().st_mode & 0o077 == 0, "secrets file must be private"


def test_default_database_is_sqlite_in_data_dir(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE__URL", raising=False)
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{(clean_env / 'data' / 'youworker.db').resolve()}"


@pytest.mark.parametrize("value", ["", "changethis", "CHANGE-ME-please"])
def test_production_refuses_missing_empty_or_example_secret(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECURITY__ROOT_API_KEY", "a-real-root-key-0123456789")
    monkeypatch.setenv("SECURITY__JWT_SECRET", value)
    monkeypatch.setenv("SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET", Fernet.generate_key().decode())
    with pytest.raises(SettingsError, match="SECURITY__JWT_SECRET"):
        load_settings()
    assert not (clean_env / "data" / "dev-secrets.json").exists()


def test_production_names_every_missing_secret(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    for name in (
        "SECURITY__ROOT_API_KEY",
        "SECURITY__JWT_SECRET",
        "SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET",
    ):
        assert name in str(caught.value)


def test_production_accepts_real_secrets(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECURITY__ROOT_API_KEY", "root-key-0123456789abcdef")
    monkeypatch.setenv("SECURITY__JWT_SECRET", "jwt-secret-0123456789abcdef")
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET", f"{new}, {old}")
    settings = load_settings()
    assert settings.security.fernet_keys() == [new, old]
    assert settings.cookie_secure is True


def test_bad_fernet_key_is_a_clear_error(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = Fernet.generate_key().decode()
    monkeypatch.setenv("SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET", f"{good},not-a-key")
    with pytest.raises(SettingsError, match=r"key #2 is not a valid Fernet key"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("LLM__OLLAMA_BASE_URL", "not a url", "LLM__OLLAMA_BASE_URL"),
        ("LLM__OLLAMA_BASE_URLS", "http://a:1,not a url", "LLM__OLLAMA_BASE_URLS__1"),
        ("LLM__OLLAMA_BASE_URLS", '["http://a:1",', "LLM__OLLAMA_BASE_URLS: .*JSON list"),
        ("DATABASE__URL", "mysql://localhost/db", "DATABASE__URL"),
        ("API__PORT", "70000", "API__PORT"),
        ("APP_ENV", "staging", "APP_ENV"),
    ],
)
def test_invalid_values_name_the_variable(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=expected):
        load_settings()


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    from youworker.settings import Settings

    for field_name, field in Settings.model_fields.items():
        annotation = field.annotation
        if hasattr(annotation, "model_fields"):
            for sub in annotation.model_fields:
                assert f"{field_name.upper()}__{sub.upper()}=" in example, (
                    f"{field_name}__{sub} missing"
                )
        else:
            assert f"{field_name.upper()}=" in example, f"{field_name} missing"


async def test_postgres_pool_follows_the_settings(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE__URL", "postgresql://app@127.0.0.1:5432/youworker")
    monkeypatch.setenv("DATABASE__POOL_SIZE", "3")
    monkeypatch.setenv("DATABASE__MAX_OVERFLOW", "4")
    database = load_settings().database
    engine = create_engine_for(
        database.url, pool_size=database.pool_size, max_overflow=database.max_overflow
    )
    try:  # creating the engine connects nowhere
        pool = engine.sync_engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool._max_overflow) == (3, 4)
    finally:
        await engine.dispose()


def test_a_pool_of_zero_is_refused(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE__POOL_SIZE", "0")
    with pytest.raises(SettingsError, match="DATABASE__POOL_SIZE"):
        load_settings()
