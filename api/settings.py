"""Service configuration, read once from the environment."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from api.tokens import AuthConfig

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

# The exit code of a server process whose configuration or first policy cannot work
# (sysexits' EX_CONFIG): the supervisor does not restart it, restarting would only loop.
STARTUP_REFUSED = 78
DEFAULT_POLICY = Path(__file__).resolve().parent.parent / "policy"
DEFAULT_DATABASE = Path("var") / "tiaokuai.sqlite3"
DEFAULT_FEATURES = DEFAULT_POLICY.parent / "features"
DEFAULT_CUCUMBER = DEFAULT_POLICY.parent / "out" / "cucumber.json"


@dataclass(frozen=True)
class Settings:
    """Where the policy and the decision log live.

    TIAOKUAI_POLICY        policy directory (default: the repository's policy/): the default jurisdiction
    TIAOKUAI_JURISDICTIONS a directory of county policies served next to it (each extends a template; default: none)
    TIAOKUAI_DATABASE_URL  SQLAlchemy URL of the decision log (default: SQLite under var/)
    TIAOKUAI_FEATURES      zh-CN feature files the clause pages show (default: features/)
    TIAOKUAI_CUCUMBER      cucumber JSON of the last test run (default: out/cucumber.json)
    TIAOKUAI_SQLITE_SYNCHRONOUS   FULL (default: a logged decision survives power loss) or NORMAL
                                  (survives a process crash; one fsync less per commit)
    TIAOKUAI_MAX_BODY_BYTES       largest request body accepted (default 1 MiB; larger → 413)
    TIAOKUAI_DECISION_CACHE       decisions cached per policy version (default 10000; 0 = off)
    TIAOKUAI_RELOAD_TIMEOUT       seconds the compile-check of a reloaded policy may take (default 30)
    TIAOKUAI_ANALYSIS_TIMEOUT     seconds the /diff page's impact analysis (in a child process) may take (default 120)
    TIAOKUAI_CHECKPOINT_KEY       Ed25519 key that signs checkpoints of the log (default: beside an SQLite
                                  log, `<log>.checkpoint.key`; else var/checkpoint.key; created if absent)
    TIAOKUAI_CHECKPOINTS          the signed checkpoints, one JSON line each (default: `<log>.checkpoints.jsonl`)
    TIAOKUAI_CHECKPOINT_INTERVAL  seconds between checkpoints while the head moves (default 60; 0 = only at shutdown)
    TIAOKUAI_TOKENS / TIAOKUAI_TOKENS_FILE, TIAOKUAI_AUTH_DECIDE, TIAOKUAI_AUTH_LIST: see api/tokens.py
    """

    policy_dir: Path
    database_url: str
    jurisdictions_dir: Path | None = None
    features_dir: Path = DEFAULT_FEATURES
    cucumber_json: Path = DEFAULT_CUCUMBER
    max_body_bytes: int = 1 << 20
    decision_cache: int = 10_000
    reload_timeout: float = 30.0
    analysis_timeout: float = 120.0
    sqlite_synchronous: str = "FULL"
    auth: AuthConfig = field(default_factory=AuthConfig)
    checkpoint_key: Path | None = None
    checkpoints: Path | None = None
    checkpoint_interval: float = 60.0

    def checkpoint_paths(self) -> tuple[Path, Path] | None:
        """(key, checkpoint file); None for an in-memory log, which has nothing to anchor."""
        return checkpoint_paths(self.database_url, self.checkpoint_key, self.checkpoints)

    @classmethod
    def from_env(cls, policy_dir: Path | str | None = None, database_url: str | None = None) -> Settings:
        policy = policy_dir or os.environ.get("TIAOKUAI_POLICY") or DEFAULT_POLICY
        url = database_url or os.environ.get("TIAOKUAI_DATABASE_URL") or f"sqlite:///{DEFAULT_DATABASE}"
        features = Path(os.environ.get("TIAOKUAI_FEATURES") or DEFAULT_FEATURES)
        cucumber = Path(os.environ.get("TIAOKUAI_CUCUMBER") or DEFAULT_CUCUMBER)
        env = os.environ
        jurisdictions = env.get("TIAOKUAI_JURISDICTIONS")
        return cls(
            Path(policy),
            url,
            Path(jurisdictions) if jurisdictions else None,
            features,
            cucumber,
            max_body_bytes=int(env.get("TIAOKUAI_MAX_BODY_BYTES", 1 << 20)),
            decision_cache=int(env.get("TIAOKUAI_DECISION_CACHE", 10_000)),
            reload_timeout=float(env.get("TIAOKUAI_RELOAD_TIMEOUT", 30.0)),
            analysis_timeout=float(env.get("TIAOKUAI_ANALYSIS_TIMEOUT", 120.0)),
            sqlite_synchronous=env.get("TIAOKUAI_SQLITE_SYNCHRONOUS", "FULL").upper(),
            auth=AuthConfig.from_env(env),
            checkpoint_key=Path(env["TIAOKUAI_CHECKPOINT_KEY"]) if env.get("TIAOKUAI_CHECKPOINT_KEY") else None,
            checkpoints=Path(env["TIAOKUAI_CHECKPOINTS"]) if env.get("TIAOKUAI_CHECKPOINTS") else None,
            checkpoint_interval=float(env.get("TIAOKUAI_CHECKPOINT_INTERVAL", 60.0)),
        )


def checkpoint_paths(database_url: str, key: Path | None = None, checkpoints: Path | None = None) -> tuple[Path, Path] | None:
    """Where a log's checkpoint key and checkpoints live unless configured: beside an SQLite
    file (`log.sqlite3.checkpoint.key`, `log.sqlite3.checkpoints.jsonl`), else the key under var/
    and the checkpoints in var/checkpoints/, one file per database (replicas of one log share it)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return (key, checkpoints) if key is not None and checkpoints is not None else None
        base = Path(str(url.database))
        return key or base.with_name(base.name + ".checkpoint.key"), checkpoints or base.with_name(base.name + ".checkpoints.jsonl")
    return key or DEFAULT_DATABASE.with_name("checkpoint.key"), checkpoints or DEFAULT_DATABASE.with_name("checkpoints") / _log_name(url)


def _log_name(url: URL) -> str:
    """A file name that is the same for every replica of one log and differs between logs:
    readable backend, host, port and database, then a digest of the whole URL without its
    password (two schemas of one database are two logs)."""
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:12]
    readable = "-".join(str(part) for part in (url.get_backend_name(), url.host, url.port, url.database) if part)
    return re.sub(r"[^A-Za-z0-9._-]", "_", readable) + f"-{digest}.jsonl"
