"""A local model's forward pass on ONNX Runtime instead of torch.

For a model of the plain layout (a BERT-like transformer, mean pooling, at most
normalisation: :func:`memvault.embedders.local._plain_layout`), the transformer is exported
once to an ONNX graph with torch, checked against torch's own output, and kept in a cache
directory under a key of the model's files and the export's format. A process that finds
the graph there never imports torch or transformers: it runs the graph on ONNX Runtime and
tokenizes with the model's ``tokenizer.json`` through ``tokenizers``, the library under
transformers' fast tokenizers (the same ids and character offsets).

Why: all-MiniLM-L6-v2's pass over a 13-token question takes 3.1 ms on one ONNX Runtime
thread against 8.2 ms on one torch thread (2-core EPYC), and a batch of memories takes the
same time or less; and a process without torch is about 400 MiB smaller.

Every run uses one thread, its caller's (ONNX Runtime allows concurrent runs of one session):
a query runs on the queries' thread beside the memories', and the batches of memories run
``workers`` at a time (default: two, or the machine's cores if fewer). On a 2-core Xeon, one
session with two intra-op threads embedded a LoCoMo conversation's turns 1.55 times faster
than with one, but made search p95 at 1,000,000 memories 119 ms against 99 ms (the query's
second thread took the core the search's store reads needed); two runs of one thread side by
side embed them faster still (2.2 s against 2.9 s) and leave a query its one thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memvault.errors import ConfigError

__all__ = ["OnnxModel", "onnx_available"]

_log = logging.getLogger(__name__)

#: Part of the cache key: a change to how the graph is made makes a new file.
_FORMAT = "memvault-onnx-1"
#: Largest difference allowed between ONNX Runtime's and torch's pooled vectors (1 - cosine)
#: when a graph is made; a traced graph that computes something else is refused.
_TOLERANCE = 1e-5
_PROBE = [
    "A probe sentence to compare the exported graph with the model, padded in a batch.",
    "Short one.",
    "Ein dritter Satz, mit Umlauten: schön, größer; und Zahlen 2023-05-07.",
]
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_EXPORTING = threading.Lock()


def onnx_available() -> bool:
    """Whether ONNX Runtime and ``tokenizers`` are installed (without importing them)."""
    return all(importlib.util.find_spec(n) is not None for n in ("onnxruntime", "tokenizers"))


@dataclass(frozen=True)
class Tokens:
    """A tokenized batch, padded to its longest text: int64 ``ids``, ``mask`` and
    ``types`` of shape (texts, tokens), and each token's character ``offsets``
    (texts, tokens, 2; special and padding tokens have ``(0, 0)``)."""

    ids: np.ndarray
    mask: np.ndarray
    types: np.ndarray
    offsets: np.ndarray


class OnnxModel:
    """A model directory's transformer as an ONNX Runtime session and its tokenizer."""

    def __init__(self, session: Any, tokenizer: Any, max_seq_length: int,
                 workers: int = 1) -> None:
        self._session = session
        self._inputs = [i.name for i in session.get_inputs()]
        self._tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self._workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def open(cls, path: Path, max_seq_length: int, cache: Path,
             workers: int | None = None) -> OnnxModel:
        """The model at ``path``, its graph taken from ``cache`` or exported there first
        (which needs torch and transformers once). Raises :class:`ConfigError` when the
        graph cannot be made, does not compute what the model does, or does not load."""
        try:
            import onnxruntime

            tokenizer = _tokenizer(path, max_seq_length)
            graph = cache / f"{_prefix(path)}{_key(path)}.onnx"
            made = _made(path, graph, tokenizer, max_seq_length)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            try:
                session = onnxruntime.InferenceSession(
                    str(graph), options, providers=["CPUExecutionProvider"])
            except Exception:
                if made:
                    raise
                # A graph this process did not just make may be damaged: make it again, once.
                _log.warning("the ONNX graph %s does not load; exporting it again", graph)
                graph.unlink(missing_ok=True)
                _made(path, graph, tokenizer, max_seq_length)
                session = onnxruntime.InferenceSession(
                    str(graph), options, providers=["CPUExecutionProvider"])
        except ConfigError:
            raise
        except Exception as exc:  # onnxruntime and tokenizers raise untyped errors
            raise ConfigError(f"cannot run {str(path)!r} on ONNX Runtime: {exc}") from exc
        return cls(session, tokenizer, max_seq_length,
                   workers or min(2, os.cpu_count() or 1))

    def encode(self, texts: list[str]) -> list[Any]:
        """Each text's tokens (``tokenizers`` encodings), truncated to the model's window."""
        return list(self._tokenizer.encode_batch(texts))

    def tokenize(self, encodings: list[Any]) -> Tokens:
        """Encodings of :meth:`encode` as one padded batch."""
        width = max(len(e.ids) for e in encodings)
        shape = (len(encodings), width)
        ids, mask, types = (np.zeros(shape, np.int64) for _ in range(3))
        offsets = np.zeros((*shape, 2), np.int64)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n] = e.ids
            mask[row, :n] = e.attention_mask
            types[row, :n] = e.type_ids
            offsets[row, :n] = e.offsets
        return Tokens(ids, mask, types, offsets)

    def hidden(self, tokens: Tokens) -> np.ndarray:
        """The transformer's last hidden state, float32 (texts, tokens, dimensions)."""
        given = dict(zip(_INPUTS, (tokens.ids, tokens.mask, tokens.types), strict=True))
        feed = {name: given[name] for name in self._inputs}
        result: np.ndarray = self._session.run(None, feed)[0]
        return result

    def hidden_many(self, batches: list[Tokens]) -> list[np.ndarray]:
        """:meth:`hidden` of each batch, ``workers`` of them running side by side."""
        if self._workers == 1 or len(batches) < 2:
            return [self.hidden(tokens) for tokens in batches]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, "memvault-model-batch")
        return list(self._pool.map(self.hidden, batches))

    def close(self) -> None:
        """Stop the batch threads (after the runs in flight)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def _prefix(path: Path) -> str:
    """The start of the names of one model directory's graphs."""
    where = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{path.name}-{where}-"


def _forget_older(graph: Path, prefix: str) -> None:
    """Delete the model's graphs other than ``graph`` (made from earlier files of it), and
    what exports of it that were killed left behind (an hour old: not one running now)."""
    for other in graph.parent.glob(f"{prefix}*.onnx"):
        if other != graph:
            other.unlink(missing_ok=True)
    stale = time.time() - 3600
    for partial in graph.parent.glob(f".{prefix}*.partial"):
        with contextlib.suppress(OSError):
            if partial.stat().st_mtime < stale:
                partial.unlink()


def _key(path: Path) -> str:
    """What the exported graph depends on: the model's configuration and weights (by
    size and modification time), and the format of the export."""
    digest = hashlib.sha256(_FORMAT.encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json",
                 "tokenizer_config.json", "special_tokens_map.json"):
        file = path / name
        if file.exists():
            stat = file.stat()
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _made(path: Path, graph: Path, tokenizer: Any, max_seq_length: int) -> bool:
    """Export ``graph`` unless it exists; whether this call made it."""
    if graph.exists():
        return False
    with _EXPORTING:  # torch's exporter is not safe to run twice at once
        if graph.exists():
            return False
        _export(path, graph, tokenizer, max_seq_length)
        _forget_older(graph, _prefix(path))
        return True


def _tokenizer(path: Path, max_seq_length: int) -> Any:
    """The model's ``tokenizer.json`` as :class:`OnnxModel` runs it: no padding (a batch is
    padded to its longest text), truncated to the model's window."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_seq_length)
    return tokenizer


def _export(path: Path, graph: Path, ours: Any, max_seq_length: int) -> None:
    """Trace the model's transformer into ``graph`` (written whole or not at all) after
    checking that ``ours`` tokenizes as transformers does and that ONNX Runtime computes
    the same pooled vectors as torch."""
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise ConfigError(
            "making the ONNX graph needs torch and transformers: pip install 'memvault[local]'"
        ) from exc

    partial = graph.with_name(f".{graph.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        theirs = AutoTokenizer.from_pretrained(str(path))
        model = AutoModel.from_pretrained(str(path), attn_implementation="eager").eval()
        probe = theirs(_PROBE, padding=True, return_tensors="pt")
        names = [name for name in _INPUTS if name in probe]
        _same_tokens(ours, theirs, max_seq_length)

        class _Transformer(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *inputs: Any) -> Any:
                given = dict(zip(names, inputs, strict=True))
                return self.model(**given).last_hidden_state

        graph.parent.mkdir(parents=True, exist_ok=True)
        axes = {name: {0: "texts", 1: "tokens"} for name in (*names, "hidden")}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on code it does not trace
            # Before the export, which may leave the module in training mode.
            expected = model(**{n: probe[n] for n in names}).last_hidden_state.numpy()
            torch.onnx.export(_Transformer(), tuple(probe[n] for n in names), str(partial),
                              input_names=names, output_names=["hidden"], dynamic_axes=axes,
                              opset_version=17, dynamo=False)
        _check(partial, {n: probe[n].numpy() for n in names}, expected)
        os.replace(partial, graph)
    except ConfigError:
        raise
    except Exception as exc:  # transformers and torch's exporter raise many kinds
        raise ConfigError(f"cannot export {str(path)!r} to ONNX: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    _log.info("exported %s to %s", path, graph)


def _same_tokens(ours: Any, theirs: Any, max_seq_length: int) -> None:
    """Refuse a ``tokenizer.json`` that tokenizes otherwise than transformers' tokenizer of
    the model (which also reads ``tokenizer_config.json``): ids, mask, types and offsets."""
    texts = [*_PROBE, " ".join(_PROBE) * (max_seq_length // 8 + 1)]
    for text in texts:
        mine = ours.encode(text)
        given = theirs(text, truncation=True, max_length=max_seq_length,
                       return_offsets_mapping=True)
        expected = (list(given["input_ids"]), list(given["attention_mask"]),
                    list(given.get("token_type_ids", mine.type_ids)),
                    [tuple(o) for o in given["offset_mapping"]])
        if (mine.ids, mine.attention_mask, mine.type_ids,
                [tuple(o) for o in mine.offsets]) != expected:
            raise ConfigError(
                "the model's tokenizer.json tokenizes otherwise than its tokenizer does")


def _check(graph: Path, feed: dict[str, np.ndarray], expected: np.ndarray) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    # The exporter drops inputs the model never reads; feed the ones the graph declares.
    got = session.run(None, {i.name: feed[i.name] for i in session.get_inputs()})[0]
    mask = feed["attention_mask"]
    worst = float(np.max(1.0 - np.sum(_pool(got, mask) * _pool(expected, mask), axis=1)))
    if not worst <= _TOLERANCE:
        raise ConfigError(
            f"the exported ONNX graph differs from the model (1 - cosine {worst:.2e})")


def _pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    summed = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    normed: np.ndarray = summed / np.linalg.norm(summed, axis=1, keepdims=True)
    return normed

