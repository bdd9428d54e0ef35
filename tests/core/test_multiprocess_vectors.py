"""Several processes adding memories with vectors to one SQLite file at once.

Four fresh interpreters (two for the same user) are released together on a new file, each
with an embedder: the OpenAI-compatible one, pointed at a small deterministic embeddings
server this test runs on a loopback port (each text's vector is derived from its SHA-256, so
any process computes the same vector for the same text). Each worker adds memories (one by
one and in batches), deletes some, searches, and waits for its vectors before it exits.

Afterwards: no acknowledged write is lost, every stored memory has exactly one vector row,
that vector is its own content's (no process wrote another memory's vector, none is missing
or doubled), the file passes SQLite's integrity check, and the store records one embedder.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest

from memvault import SyncMemvault
from tests.fake_embeddings import FakeEmbeddings, fake_embeddings

pytestmark = pytest.mark.timeout(180)

ADDS_PER_WORKER = 40
WORKER_USERS = ["alice", "alice", "bob", "carol"]
DIMENSIONS = 8
START_TIMEOUT = 60.0
RUN_TIMEOUT = 120.0
MODEL = "fake-sha256"


def fake_vector(text: str) -> list[float]:
    """The embeddings server's vector for ``text``: deterministic, never zero."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [(b - 127.5) / 127.5 for b in digest[:DIMENSIONS]]


def expected(text: str) -> np.ndarray:
    vector = np.asarray(fake_vector(text), dtype=np.float32)
    return vector / np.linalg.norm(vector)


@pytest.fixture(scope="module")
def embeddings_server() -> Iterator[FakeEmbeddings]:
    with fake_embeddings(fake_vector) as server:
        yield server


# Signals "ready" once memvault is imported, waits for "go" on stdin (the barrier), then
# opens the shared file and reports every acknowledged write as a JSON line on stdout.
WORKER = r'''
import json
import sys
import traceback


def emit(**fields):
    print(json.dumps(fields), flush=True)


def main():
    database, user, index, count, url, model = sys.argv[1:7]
    index, count = int(index), int(count)
    from memvault import SyncMemvault

    emit(event="ready")
    if sys.stdin.readline().strip() != "go":
        emit(event="error", error="no go signal")
        return 1
    settings = {"user_id": user, "agent_id": f"worker-{index}", "embedder": "openai",
                "embedder.model": model, "embedder.base_url": url}
    try:
        with SyncMemvault.open(database, **settings) as mv:
            for n in range(count):
                token = f"w{index}n{n}"
                session = "shared" if n % 2 == 0 else f"own-{index}"
                if n % 10 == 9:
                    batch = mv.add_many([
                        {"content": f"batch {token} about the orchard", "session_id": session},
                        {"content": f"batch {token}b about the orchard", "session_id": session},
                    ])
                    for memory in batch:
                        emit(event="added", id=memory.id, user=user, content=memory.content)
                    memory = batch[0]
                else:
                    memory = mv.add(f"note {token} about the garden plans", session_id=session,
                                    profile={"last": token} if n % 7 == 0 else None)
                    emit(event="added", id=memory.id, user=user, content=memory.content)
                if n % 8 == 4:
                    mv.search("garden plans", limit=5)
                if n % 13 == 12:
                    mv.delete(memory.id)
                    emit(event="deleted", id=memory.id, user=user)
            if not mv.wait_for_vectors(timeout=60):
                raise AssertionError("vectors still queued after 60 s")
            state = mv.wait_until_ready(timeout=30)
            emit(event="embedder", state=str(state))
    except BaseException:
        emit(event="error", error=traceback.format_exc())
        return 1
    emit(event="done")
    return 0


sys.exit(main())
'''


@dataclass
class Worker:
    index: int
    user: str
    process: subprocess.Popen[str]
    stderr_path: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    def read(self, stdout: IO[str]) -> None:
        for line in stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "stray", "line": line}
            self.events.append(event)
            if event.get("event") == "ready":
                self.ready.set()
        self.ready.set()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == kind]

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, embeddings_server: FakeEmbeddings
        ) -> tuple[Path, list[Worker]]:
    tmp_path = tmp_path_factory.mktemp("multiprocess-vectors")
    database = tmp_path / "shared.db"
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    workers: list[Worker] = []
    try:
        for index, user in enumerate(WORKER_USERS):
            stderr_path = tmp_path / f"worker-{index}.stderr"
            with stderr_path.open("w", encoding="utf-8") as stderr:
                process = subprocess.Popen(
                    [sys.executable, "-W", "ignore::DeprecationWarning", str(script),
                     str(database), user, str(index), str(ADDS_PER_WORKER),
                     embeddings_server.url, MODEL],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
                    encoding="utf-8",
                )
            worker = Worker(index=index, user=user, process=process, stderr_path=stderr_path)
            assert process.stdout is not None
            worker.reader = threading.Thread(target=worker.read, args=(process.stdout,),
                                             daemon=True)
            worker.reader.start()
            workers.append(worker)
        for worker in workers:
            assert worker.ready.wait(START_TIMEOUT), f"worker {worker.index} never got ready"
            assert worker.of("ready"), f"worker {worker.index} died:\n{worker.stderr}"
        for worker in workers:
            assert worker.process.stdin is not None
            worker.process.stdin.write("go\n")
            worker.process.stdin.close()
        for worker in workers:
            try:
                worker.process.wait(timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail(f"worker {worker.index} did not finish in {RUN_TIMEOUT} s")
            assert worker.reader is not None
            worker.reader.join(timeout=10)
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait(timeout=10)
    return database, workers


def _stored(database: Path) -> dict[str, tuple[str, str]]:
    """Every stored memory: id -> (user, content)."""
    with sqlite3.connect(database) as conn:
        return {row[0]: (row[1], row[2])
                for row in conn.execute("SELECT id, user_id, content FROM memories")}


def test_every_worker_succeeds(run: tuple[Path, list[Worker]]) -> None:
    _, workers = run
    for worker in workers:
        errors = [e["error"] for e in worker.of("error")]
        assert not errors, f"worker {worker.index} failed:\n{errors[0]}\n{worker.stderr}"
        assert worker.process.returncode == 0, worker.stderr
        assert worker.of("done"), worker.stderr
        assert "ready" in worker.of("embedder")[0]["state"].lower(), worker.of("embedder")


def test_no_acknowledged_write_is_lost(run: tuple[Path, list[Worker]]) -> None:
    database, workers = run
    stored = _stored(database)
    for worker in workers:
        deleted = {e["id"] for e in worker.of("deleted")}
        for added in worker.of("added"):
            if added["id"] in deleted:
                assert added["id"] not in stored
            else:
                assert stored.get(added["id"]) == (added["user"], added["content"])
    acknowledged = sum(len(w.of("added")) - len(w.of("deleted")) for w in workers)
    assert len(stored) == acknowledged


def test_every_memory_has_its_own_vector_exactly_once(
    run: tuple[Path, list[Worker]], embeddings_server: FakeEmbeddings
) -> None:
    database, _ = run
    stored = _stored(database)
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT m.id, e.user_id, e.vector FROM embeddings e"
            " JOIN memories m ON m.rowid = e.memory_rowid").fetchall()
        orphans = conn.execute(
            "SELECT count(*) FROM embeddings e WHERE NOT EXISTS"
            " (SELECT 1 FROM memories m WHERE m.rowid = e.memory_rowid)").fetchone()[0]
    per_memory = Counter(memory_id for memory_id, _, _ in rows)
    assert set(per_memory) == set(stored), (
        f"without a vector: {sorted(set(stored) - set(per_memory))[:5]}")
    assert max(per_memory.values()) == 1
    assert orphans == 0
    for memory_id, user, blob in rows:
        vector = np.frombuffer(blob, dtype=np.float32)
        assert user == stored[memory_id][0]
        # the whole-memory vector first (a remote model gives no passage vectors)
        assert vector.shape == (DIMENSIONS,), vector.shape
        assert np.allclose(vector, expected(stored[memory_id][1]), atol=1e-5), memory_id
    for _, content in stored.values():
        assert embeddings_server.counts[content] >= 1


def test_the_file_is_intact_and_searchable_by_meaning(
    run: tuple[Path, list[Worker]], embeddings_server: FakeEmbeddings
) -> None:
    database, _ = run
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    settings = {"user_id": "bob", "embedder": "openai", "embedder.model": MODEL,
                "embedder.base_url": embeddings_server.url}
    with SyncMemvault.open(database, **settings) as mv:
        mv.wait_until_ready(timeout=30)
        report = mv.doctor()
        assert report.ok, report
        # a query whose vector equals one memory's content finds that memory first
        content = next(m.content for m in mv.list(limit=5).items)
        result = mv.search(content, limit=3)
        assert "vector" in result.retrievers, result
        assert result.hits[0].memory.content == content
