"""A scripted OpenAI-compatible ``POST /v1/chat/completions`` server on a loopback port, for
the profile-extraction tests (no model, no network).

The test gives ``script(text, body)``: ``text`` is the memory's text as the prompt carries
it, ``body`` the request; it returns a :class:`Scripted` answer (facts, a status, raw bytes,
a delay, a huge body). While ``gate`` is cleared, requests wait for it (bounded), so a test
can hold the model and watch an add return first. Requests are counted per memory text.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeChat", "Scripted", "content", "facts", "fake_chat", "memory_text"]

GATE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Scripted:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0  # seconds, waited on an event that is never set (bounded, no sleep)
    stream_bytes: int = 0  # instead of ``body``: this many bytes of a never-ending string


def facts(*items: dict[str, Any], tokens: int = 50) -> Scripted:
    """A good answer carrying these facts (missing fields filled)."""
    full = [{"category": "other", "confidence": 0.9, "retracts": False, **item}
            for item in items]
    answer = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "scripted",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": json.dumps({"facts": full})}}],
        "usage": {"prompt_tokens": tokens - 10, "completion_tokens": 10,
                  "total_tokens": tokens},
    }
    return Scripted(body=json.dumps(answer).encode())


def content(text: str) -> Scripted:
    """A well-formed answer whose message is ``text`` (to script garbage inside it)."""
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
    return Scripted(body=json.dumps(answer).encode())


def memory_text(body: dict[str, Any]) -> str:
    """The memory's text in a request (after the prompt's ``Message (...):`` line)."""
    prompt = str(body["messages"][-1]["content"])
    return prompt.split("):\n", 1)[-1]


@dataclass
class FakeChat:
    url: str
    script: Callable[[str, dict[str, Any]], Scripted]
    counts: Counter[str] = field(default_factory=Counter)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: sum(self.counts.values()) >= count, timeout)


@contextlib.contextmanager
def fake_chat(script: Callable[[str, dict[str, Any]], Scripted]) -> Iterator[FakeChat]:
    """Serve ``script`` until the block ends; the gate starts open."""
    state = FakeChat(url="", script=script)
    state.gate.set()
    never = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path.rstrip("/") != "/v1/chat/completions":
                self.send_error(404)
                return
            text = memory_text(body)
            with state.lock:
                state.bodies.append(body)
            with state.arrived:
                state.counts[text] += 1
                state.arrived.notify_all()
            state.gate.wait(GATE_TIMEOUT)
            answer = state.script(text, body)
            if answer.delay:
                never.wait(answer.delay)
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            if answer.stream_bytes:
                self.send_header("Content-Length", str(answer.stream_bytes + 2))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(b'{"')
                    chunk = b"x" * 65536
                    for _ in range(answer.stream_bytes // len(chunk)):
                        self.wfile.write(chunk)
                return
            data = answer.body or json.dumps({"error": {"message": "scripted"}}).encode()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.gate.set()
        never.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
