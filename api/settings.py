"""Settings from the environment (CONTRACT.md §1), with an optional `.env` file.

Only this module reads the environment: everything else receives a `Settings`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/tongban.db"


def _read_dotenv(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines; comments and blank lines are skipped, quotes stripped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values


def _secret_from_file(path: Path) -> str:
    """Development secret: generated once into var/secret and reused, so sessions survive restarts."""
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret)
    return secret


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one running instance."""

    database_url: str = DEFAULT_DATABASE_URL
    index_dir: Path = Path("var/index")
    home_region: str = "331000"
    secret_key: str = ""
    graphql_introspection: bool = True
    allowed_hosts: tuple[str, ...] = ("*",)
    https_only: bool = False
    max_body_bytes: int = 1024 * 1024
    rate_limit_per_minute: int = 600
    debug: bool = False
    #: TONGBAN_WEBHOOK_ALLOWED_HOSTS: host names (or IP literals) webhooks may be sent to; empty = off
    webhook_allowed_hosts: tuple[str, ...] = ()
    #: `text` (default) or `json` (one JSON object a line) for the server's log lines
    log_format: str = "text"
    #: addresses and networks that may read /metrics
    metrics_allow: tuple[str, ...] = ("127.0.0.1/8", "::1/128")
    #: state the workers of one `tongban serve` share (metrics files, the rate limiter's buckets);
    #: set by `tongban serve` for its workers, None when the app runs on its own (tests, embedders)
    run_dir: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def load_settings(environ: dict[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read settings: the process environment wins over `.env` in the working directory."""
    base = Path(cwd or Path.cwd())
    env = {**_read_dotenv(base / ".env"), **(os.environ if environ is None else environ)}
    index_dir = Path(env.get("TONGBAN_INDEX_DIR") or "var/index")
    if not index_dir.is_absolute():
        index_dir = base / index_dir
    secret = env.get("TONGBAN_SECRET_KEY") or _secret_from_file(base / "var" / "secret")
    hosts = tuple(h.strip() for h in (env.get("TONGBAN_ALLOWED_HOSTS") or "*").split(",") if h.strip())
    return Settings(
        database_url=env.get("TONGBAN_DATABASE_URL") or DEFAULT_DATABASE_URL,
        index_dir=index_dir,
        home_region=env.get("TONGBAN_HOME_REGION") or "331000",
        secret_key=secret,
        graphql_introspection=_flag(env.get("TONGBAN_GRAPHQL_INTROSPECTION"), True),
        allowed_hosts=hosts or ("*",),
        https_only=_flag(env.get("TONGBAN_HTTPS_ONLY"), False),
        max_body_bytes=int(env.get("TONGBAN_MAX_BODY_BYTES") or 1024 * 1024),
        rate_limit_per_minute=int(env.get("TONGBAN_RATE_LIMIT_PER_MINUTE") or 600),
        debug=_flag(env.get("TONGBAN_DEBUG"), False),
        webhook_allowed_hosts=tuple(
            h.strip().lower()
            for h in (env.get("TONGBAN_WEBHOOK_ALLOWED_HOSTS") or "").split(",")
            if h.strip()
        ),
        log_format="json" if (env.get("TONGBAN_LOG_FORMAT") or "").strip().lower() == "json" else "text",
        metrics_allow=tuple(
            a.strip()
            for a in (env.get("TONGBAN_METRICS_ALLOW") or "127.0.0.1/8,::1/128").split(",")
            if a.strip()
        ),
        run_dir=Path(env["TONGBAN_RUN_DIR"]) if env.get("TONGBAN_RUN_DIR") else None,
    )
