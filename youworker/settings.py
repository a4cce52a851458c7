"""Settings from the environment and `.env`: one object shared by app, CLI and rxconfig."""

from __future__ import annotations

import ipaddress
import json
import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from limits import RateLimitItem, parse_many
from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

AppEnv = Literal["development", "production", "test"]

# Values that `.env.example` ships with; production refuses to start with any of them.
EXAMPLE_SECRET_MARKERS = ("changethis", "change-me", "changeme", "example")

SECRET_FIELDS = {
    "root_api_key": "SECURITY__ROOT_API_KEY",
    "jwt_secret": "SECURITY__JWT_SECRET",
    "chat_message_encryption_secret": "SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET",
}


class SettingsError(RuntimeError):
    """Raised when settings are missing or invalid; the message names the variable."""


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def normalize_origin(value: str) -> str | None:
    """`scheme://host[:port]` in lower case without a default port, or None if not an origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default_port = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")


class DatabaseSettings(BaseModel):
    url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in the data dir")
    echo: bool = False
    # PostgreSQL connections per process: workers x (pool_size + max_overflow) must stay under the
    # server's max_connections.
    pool_size: int = Field(default=10, ge=1, le=200)
    max_overflow: int = Field(default=20, ge=0, le=500)

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value and value.split(":", 1)[0].split("+", 1)[0] not in (
            "sqlite",
            "postgresql",
            "postgres",
        ):
            raise ValueError("DATABASE__URL must start with postgresql:// or sqlite:///")
        return value


class SecuritySettings(BaseModel):
    root_api_key: SecretStr | None = None
    jwt_secret: SecretStr | None = None
    chat_message_encryption_secret: SecretStr | None = None
    session_ttl_hours: int = Field(default=24 * 14, ge=1, le=24 * 365)
    cookie_secure: bool | None = None  # None: secure cookies in production only
    # Comma-separated lists in the environment, normalised by the validators below.
    cors_allowed_origins: str = ""  # other sites that may call the API; empty: same origin only
    ip_allowlist: str = ""  # IPs and CIDR networks; empty: every address
    ip_allowlist_scope: Literal["all", "admin"] = "all"
    trusted_proxies: str = ""  # peers whose X-Forwarded-For names the client
    max_request_mb: float = Field(default=2.0, gt=0, le=1024)
    # Admins may register stdio MCP servers (a command run on this machine) from the UI.
    allow_stdio_mcp_servers: bool = False

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        origins = []
        for item in _split(value):
            origin = normalize_origin(item)
            if origin is None:
                raise ValueError(f"{item!r} is not an origin like https://app.example.com[:port]")
            origins.append(origin)
        return ",".join(origins)

    @field_validator("ip_allowlist", "trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in _split(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or CIDR network (10.0.0.0/8, 2001:db8::/32)"
                ) from None
        return ",".join(_split(value))

    @property
    def cors_origins(self) -> tuple[str, ...]:
        return tuple(_split(self.cors_allowed_origins))

    @property
    def ip_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(item, strict=False) for item in _split(self.ip_allowlist))

    @property
    def proxy_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(
            ipaddress.ip_network(item, strict=False) for item in _split(self.trusted_proxies)
        )

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_mb * 1024 * 1024)

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(hours=self.session_ttl_hours)

    def fernet_keys(self) -> list[str]:
        """Fernet keys, newest first."""
        raw = (
            self.chat_message_encryption_secret.get_secret_value()
            if self.chat_message_encryption_secret
            else ""
        )
        return [key.strip() for key in raw.split(",") if key.strip()]


class LLMSettings(BaseModel):
    provider: Literal["auto", "ollama", "embedded"] = "auto"
    ollama_base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:11434")
    # Several Ollama hosts, comma-separated or a JSON list; empty means [ollama_base_url].
    ollama_base_urls: Annotated[list[AnyHttpUrl], NoDecode] = Field(default_factory=list)
    chat_model: str = "llama3.2"
    embed_model: str = "embeddinggemma"
    qdrant_url: AnyHttpUrl | None = None
    qdrant_collection: str = "youworker"
    probe_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    # The built-in model's child process unloads after this long without a request (0: never).
    embedded_keep_alive_seconds: float = Field(default=900.0, ge=0, le=7 * 24 * 3600)

    @field_validator("qdrant_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("ollama_base_urls", mode="before")
    @classmethod
    def _url_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a JSON list of URLs") from None
        return _split(text)

    @property
    def ollama_hosts(self) -> list[str]:
        """Every Ollama base URL in use (no trailing slash, no duplicates, in order)."""
        urls = self.ollama_base_urls or [self.ollama_base_url]
        return list(dict.fromkeys(str(url).rstrip("/") for url in urls))


class ChatSettings(BaseModel):
    max_steps: int = Field(default=6, ge=1, le=50)
    tool_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    model_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    max_message_chars: int = Field(default=32_000, ge=100, le=1_000_000)
    history_messages: int = Field(default=40, ge=2, le=1000)


class DocumentSettings(BaseModel):
    max_upload_mb: int = Field(default=50, ge=1, le=2048)
    chunk_tokens: int = Field(default=400, ge=32, le=4000)
    chunk_overlap_tokens: int = Field(default=60, ge=0, le=1000)
    embed_batch_size: int = Field(default=64, ge=1, le=1024)
    # "in-process": the app runs a worker; "external": only `youworker worker` processes run jobs.
    worker: Literal["in-process", "external"] = "in-process"
    job_lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    job_max_attempts: int = Field(default=3, ge=1, le=20)
    # How long a job waits out an unavailable embedder or vector store before it fails.
    job_wait_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    search_results: int = Field(default=5, ge=1, le=50)
    # A real chat model (not the bundled one) rewords each question for document search.
    query_expansion: bool = True
    query_expansion_seconds: float = Field(default=5.0, gt=0, le=60)
    # One upload (a browser selection, one API request): at most this many files and bytes.
    max_batch_files: int = Field(default=1000, ge=1, le=10_000)
    max_batch_mb: int = Field(default=1024, ge=1, le=65_536)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def max_batch_bytes(self) -> int:
        return self.max_batch_mb * 1024 * 1024


class GroupSettings(BaseModel):
    invitation_ttl_days: int = Field(default=7, ge=1, le=365)
    password_reset_ttl_hours: int = Field(default=24, ge=1, le=24 * 30)

    @property
    def invitation_ttl(self) -> timedelta:
        return timedelta(days=self.invitation_ttl_days)

    @property
    def password_reset_ttl(self) -> timedelta:
        return timedelta(hours=self.password_reset_ttl_hours)


class MailSettings(BaseModel):
    """SMTP for invitations and password resets; without a host, mail waits in the admin outbox."""

    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    # "starttls" upgrades a plain connection (port 587), "tls" is TLS from the start (465).
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    from_address: str = "youworker@localhost"

    @property
    def enabled(self) -> bool:
        return bool(self.smtp_host.strip())


class APISettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=1, le=65535)
    # How people reach this server; links in mail start with it. Empty: http://HOST:PORT.
    public_url: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Lifetime of a JWT from POST /api/v1/token; short, because a JWT cannot be revoked.
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("API__PUBLIC_URL must start with http:// or https://")
        return value

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


class RedisSettings(BaseModel):
    url: str | None = None

    @field_validator("url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


def parse_rate_limits(value: str) -> list[RateLimitItem]:
    """`limits` notation, several joined by `;` ("5/minute;100/day"); empty means no limit."""
    if not value.strip():
        return []
    try:
        items = parse_many(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a rate limit like '20/minute', '5/15 minutes' or '10/hour;100/day'"
        ) from None
    if any(item.amount < 1 for item in items):
        raise ValueError(f"{value!r}: a rate limit allows at least 1")
    return items


class RateLimitSettings(BaseModel):
    """Rate limits in `limits` notation; counters live in Redis when REDIS__URL is set."""

    enabled: bool = True
    sign_in_per_ip: str = "30/minute"  # every sign-in attempt from one address
    # Failed sign-ins to one account from one address before a lockout ...
    sign_in_per_account: str = "5/15 minutes"
    # ... and from all addresses together (addresses that signed in to it before are exempt).
    sign_in_per_account_all_ips: str = "50/hour"
    lockout_seconds: int = Field(default=30, ge=1, le=3600)  # doubles with each lockout ...
    lockout_max_seconds: int = Field(default=900, ge=1, le=24 * 3600)  # ... up to this
    register_per_ip: str = "20/hour"
    messages_per_user: str = "30/minute"
    # Upload budgets count files and megabytes (a file counts at least 1 MB), not requests:
    # a 1,000-file import goes through in one go, a flood of files or bytes does not.
    upload_files_per_user: str = "2000/hour;10000/day"
    upload_mb_per_user: str = "4096/hour;20480/day"
    api_per_key: str = "300/minute"
    # Failed API keys, tokens and session cookies from one address, before it is refused.
    api_auth_failures_per_ip: str = "20/minute;200/hour"

    @field_validator(
        "sign_in_per_ip",
        "sign_in_per_account",
        "sign_in_per_account_all_ips",
        "register_per_ip",
        "messages_per_user",
        "upload_files_per_user",
        "upload_mb_per_user",
        "api_per_key",
        "api_auth_failures_per_ip",
    )
    @classmethod
    def _limits_notation(cls, value: str) -> str:
        parse_rate_limits(value)
        return value.strip()


class Settings(BaseSettings):
    """Every setting of YouWorker. Nested groups use `__`, e.g. DATABASE__URL."""

    model_config = SettingsConfigDict(
        env_file=".env", env_nested_delimiter="__", extra="ignore", env_file_encoding="utf-8"
    )

    app_env: AppEnv = "development"
    data_dir: Path = Path("data")
    # Model files the app derives from packaged ones (the fast built-in embedder); shared by
    # every process, so they are made once. Default: DATA_DIR/models.
    models_dir: Path | None = None
    database: DatabaseSettings = DatabaseSettings()
    security: SecuritySettings = SecuritySettings()
    llm: LLMSettings = LLMSettings()
    chat: ChatSettings = ChatSettings()
    documents: DocumentSettings = DocumentSettings()
    groups: GroupSettings = GroupSettings()
    mail: MailSettings = MailSettings()
    api: APISettings = APISettings()
    redis: RedisSettings = RedisSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def model_cache_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def database_url(self) -> str:
        """The configured URL, or SQLite inside the data directory."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'youworker.db').resolve()}"

    @property
    def cookie_secure(self) -> bool:
        if self.security.cookie_secure is not None:
            return self.security.cookie_secure
        return self.is_production

    def secret(self, name: str) -> str:
        value: SecretStr | None = getattr(self.security, name)
        if value is None:
            raise SettingsError(f"{SECRET_FIELDS[name]} is not set")
        return value.get_secret_value()


def _is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return not lowered or any(marker in lowered for marker in EXAMPLE_SECRET_MARKERS)


def _generate_secret(name: str) -> str:
    if name == "chat_message_encryption_secret":
        return Fernet.generate_key().decode()
    import secrets

    return secrets.token_urlsafe(48)


def _validate_fernet_keys(settings: Settings) -> None:
    keys = settings.security.fernet_keys()
    if not keys:
        raise SettingsError("SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET is empty")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError) as exc:
            raise SettingsError(
                f"SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET key #{position} is not a valid "
                "Fernet key "
                "(32 url-safe base64 bytes; make one with `python -m youworker generate-key`)"
            ) from exc


def ensure_secrets(settings: Settings) -> Settings:
    """Fill missing secrets (development/test: generated once and kept) or refuse (production)."""
    missing = {
        name: env
        for name, env in SECRET_FIELDS.items()
        if getattr(settings.security, name) is None
        or _is_placeholder(getattr(settings.security, name).get_secret_value())
    }
    if missing and settings.is_production:
        names = ", ".join(missing.values())
        raise SettingsError(
            f"production needs real secrets; missing, empty or example value: {names}"
        )
    if missing:
        stored = _load_or_create_dev_secrets(settings.data_dir, list(missing))
        updates = {name: SecretStr(stored[name]) for name in missing}
        settings.security = settings.security.model_copy(update=updates)
    _validate_fernet_keys(settings)
    return settings


def _load_or_create_dev_secrets(data_dir: Path, names: list[str]) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "dev-secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if any(name not in stored for name in names):
        for name in names:
            stored.setdefault(name, _generate_secret(name))
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return stored


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one readable SettingsError."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'__'.join(str(part) for part in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from exc
    return ensure_secrets(settings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call `get_settings.cache_clear()`)."""
    return load_settings()
