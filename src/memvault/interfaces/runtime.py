"""The server's hold on its Memvault: opened in the background, reopened when a store fails.

A server answers the MCP handshake (and ``/health``) at once, whatever the state of its stores.
Calls wait a little for the Memvault to open and otherwise fail with :class:`NotOpen`, whose
message says why (which store, where): a store that is down at start-up is retried with
backoff instead of crashing the server in a loop, and a configuration error is reported to
the user through every call. Each way in (MCP tools, REST routes) turns :class:`NotOpen` into
its own kind of error.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import anyio
import anyio.to_thread

from memvault.config import Config
from memvault.errors import ConfigError, EmbedderMismatch, EncryptionError, StoreUnavailable

if TYPE_CHECKING:
    from memvault.core.memvault import Memvault

__all__ = [
    "LogLevel", "NotOpen", "Runtime", "ServeOptions", "Transport", "vector_size_mismatch",
]

log = logging.getLogger("memvault.serve")

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
Transport = Literal["stdio", "sse", "http"]

_WAIT_FOR_OPEN_SECONDS = 10.0
_MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class ServeOptions:
    """How ``memvault serve`` serves: the transport and, for HTTP, where, with which bearer
    token (and whether per-user keys), and which ``Host`` / ``Origin`` values besides
    loopback it admits."""

    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    log_level: LogLevel = "INFO"
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    #: Accept per-user API keys (``memvault keys create``) as bearer credentials.
    keys: bool = False


class NotOpen(Exception):
    """The Memvault is not open: still starting, or it could not open (the message says
    why). ``configuration``: it will not open until the configuration or the store is
    changed (a :class:`ConfigError`, e.g. :class:`EmbedderMismatch`), so retrying is of no
    use."""

    def __init__(self, message: str, *, configuration: bool = False) -> None:
        super().__init__(message)
        self.configuration = configuration


async def vector_size_mismatch(memvault: Memvault) -> EmbedderMismatch | None:
    """Whether the embedder, which has failed to start, gives vectors of another size than
    the store holds (the same model name, another model behind it): the store then refuses
    the embedder as it refuses another model's, since its vectors cannot be compared.
    ``None`` when the embedder is ready, loading, absent, or failed for another reason."""
    embedding = memvault.embedding
    if embedding.embedder is None or embedding.state != "failed":
        return None
    info = await memvault.episodic.embedding_info()
    if info is None:
        return None
    try:
        given = int((await embedding.embedder.embed(["memvault"])).shape[1])
    except Exception:  # whatever made it fail (a missing package, a server down) is logged
        return None  # it cannot embed at all: not a mismatch, search stays lexical
    if given == info.dimensions:
        return None
    return EmbedderMismatch(
        f"this store's vectors have {info.dimensions} dimensions, but the configured "
        f"embedder {embedding.embedder.name} now gives {given}. Run `memvault reembed` to "
        f"re-embed every memory with it, or configure the model that made the store."
    )


@dataclass
class Runtime:
    """What the MCP tools and REST routes need: the configuration and, once opened, the
    Memvault."""

    config: Config
    log_level: LogLevel = "INFO"
    memvault: Memvault | None = None
    error: str | None = None
    #: ``error`` is a configuration error (kept, not retried).
    error_is_configuration: bool = False
    _opened: anyio.Event = field(default_factory=anyio.Event)
    _wanted: anyio.Event = field(default_factory=anyio.Event)

    def want_open(self) -> None:
        """Let :meth:`keep_open` started ``on_demand`` open the Memvault now."""
        self._wanted.set()

    async def require(self) -> Memvault:
        """The open Memvault; waits briefly while it opens (first asking for it to open, see
        :meth:`want_open`), else raises :class:`NotOpen`."""
        self.want_open()
        if self.memvault is None and self.error is None:
            with anyio.move_on_after(_WAIT_FOR_OPEN_SECONDS):
                await self._opened.wait()
        if self.memvault is None:
            raise NotOpen(self.error or "memvault is still starting; try again in a moment",
                          configuration=self.error is not None and self.error_is_configuration)
        return self.memvault

    async def wait_open(self, timeout: float) -> bool:
        """Wait until the Memvault is open (``True``) or ``timeout`` passes (``False``)."""
        self.want_open()
        with anyio.move_on_after(timeout):
            while self.memvault is None:
                await self._opened.wait()
        return self.memvault is not None

    async def keep_open(self, *, on_demand: bool = False) -> None:
        """Open the Memvault and hold it until cancelled; retry with backoff while a store
        is unavailable or does not read with the configured keys (the file was replaced, the
        key file changed). Any other configuration error is kept and reported, not retried;
        so is an embedder found, once loaded, to give vectors of another size than the
        store's (the Memvault is then closed: calls served meanwhile were lexical).

        ``on_demand``: not before :meth:`want_open` (or a call that needs the Memvault) asks
        for it, so that what opening costs (the core's imports, the stores, the embedder)
        comes after the server's first answers. The core is imported in a worker thread:
        meanwhile the server keeps answering what needs no Memvault."""
        if on_demand:
            await self._wanted.wait()
        try:
            await anyio.to_thread.run_sync(importlib.import_module, "memvault.core.memvault")
        except ImportError as exc:  # a broken install: reported by every call, as a config error
            self.error = f"memvault's core cannot be imported ({exc}): reinstall memvault"
            self.error_is_configuration = True
            log.error("cannot open memvault: %s", self.error)
            self._opened.set()
            return
        from memvault.core.memvault import Memvault

        delay = 1.0
        while True:
            try:
                async with Memvault(self.config) as memvault:
                    self.memvault, self.error = memvault, None
                    self._opened.set()
                    delay = 1.0
                    await memvault.wait_until_ready()
                    mismatch = await vector_size_mismatch(memvault)
                    if mismatch is not None:
                        raise mismatch
                    await anyio.sleep_forever()
            except (StoreUnavailable, EncryptionError) as exc:
                # A store that no longer reads with the key (the server checked the keys
                # before serving) is unavailable, as a store that is down is, until it does.
                self.memvault, self.error = None, f"{exc} (retrying)"
                self.error_is_configuration = False
                log.warning("%s; retrying in %.0f s", exc, delay)
            except ConfigError as exc:
                self.memvault, self.error = None, str(exc)
                self.error_is_configuration = True
                log.error("cannot open memvault: %s", exc)
                self._opened.set()
                return
            finally:
                self.memvault = None
                self._opened.set()  # wake waiting calls: they report self.error
                self._opened = anyio.Event()
            await anyio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF_SECONDS)
