"""A small OpenAI-compatible ``POST /v1/embeddings`` server on a loopback port, for tests of
the OpenAI-compatible embedder that need no model: each text's vector comes from a function
the test gives, and the server counts the texts it embedded."""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeEmbeddings", "fake_embeddings"]


@dataclass
class FakeEmbeddings:
    """The running server: ``url`` is its API base (``.../v1``); ``vector`` may be swapped
    while it runs."""

    url: str
    vector: Callable[[str], list[float]]
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def fake_embeddings(vector: Callable[[str], list[float]]) -> Iterator[FakeEmbeddings]:
    """Serve ``vector`` until the block ends."""
    state = FakeEmbeddings(url="", vector=vector)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/embeddings":
                self.send_error(404)
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            with state.lock:
                state.counts.update(texts)
            answer = json.dumps({
                "object": "list", "model": body["model"],
                "data": [{"object": "embedding", "index": i, "embedding": state.vector(t)}
                         for i, t in enumerate(texts)],
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
