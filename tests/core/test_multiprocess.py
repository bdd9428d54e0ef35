"""Several server processes on one SQLite file at once.

Claude Desktop and Cursor each start their own memvault server, so one data file is opened by
several processes that write and search concurrently. Here four fresh interpreters (two for
the same user, as two desktop clients would be) are released together on a new file, each
interleaving adds (shared and private sessions, some with profile facts), deletes, searches
and lists. Every write a worker saw acknowledged must be in the file afterwards, no error may
reach a caller (least of all "database is locked"), and users must stay apart.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from memvault import NotFound, SyncMemvault

pytestmark = pytest.mark.timeout(120)

ADDS_PER_WORKER = 100
# Two processes share alice (two desktop clients of one person); bob and carol have one each.
WORKER_USERS = ["alice", "alice", "bob", "carol"]
START_TIMEOUT = 60.0
RUN_TIMEOUT = 90.0

# The worker: signals "ready" once memvault is imported, waits for "go" on stdin (the
# barrier), then opens the shared file (so the first open and the schema migration race too)
# and reports every acknowledged write as a JSON line on stdout, as soon as it returns.
WORKER = r'''
import json
import sys
import traceback


def emit(**fields):
    print(json.dumps(fields), flush=True)


def main():
    database, user, index, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    from memvault import SyncMemvault

    emit(event="ready")
    if sys.stdin.readline().strip() != "go":
        emit(event="error", error="no go signal")
        return 1
    try:
        with SyncMemvault.open(database, user_id=user, agent_id=f"worker-{index}",
                               embedder="none") as mv:
            for n in range(count):
                token = f"w{index}n{n}"
                session = "shared" if n % 2 == 0 else f"own-{index}"
                profile = None
                if n % 5 == 0:
                    profile = {f"w{index}_last": n, "mood": token}
                if n % 20 == 19:
                    # The batch API: two memories in one transaction.
                    batch = mv.add_many([
                        {"content": f"batch {n} of worker {index}: {token} garden",
                         "session_id": session, "metadata": {"worker": index, "n": n}},
                        {"content": f"batch {n} of worker {index}: {token}b garden",
                         "session_id": session, "metadata": {"worker": index, "n": n}},
                    ])
                    for memory in batch:
                        emit(event="added", id=memory.id, user=user, session=session,
                             token=memory.content.split()[-2])
                    memory = batch[0]
                else:
                    memory = mv.add(
                        f"note {n} from worker {index}: {token} about the garden plans",
                        session_id=session, metadata={"worker": index, "n": n},
                        profile=profile,
                    )
                    emit(event="added", id=memory.id, user=user, session=session, token=token)
                    if profile is not None:
                        emit(event="facts", user=user, facts=profile)
                if n % 10 == 3:
                    # Read your own write through the full-text index.
                    hits = [h.memory.id for h in mv.search(token, limit=5).hits]
                    if memory.id not in hits:
                        raise AssertionError(f"search {token!r} missed {memory.id}: {hits}")
                if n % 10 == 6:
                    result = mv.search("garden plans", session_id="shared", limit=10)
                    page = mv.list(limit=20)
                    seen = {m.user_id for m in page.items}
                    seen |= {h.memory.user_id for h in result.hits}
                    if seen - {user}:
                        raise AssertionError(f"{user} saw memories of {seen - {user}}")
                    mv.get(memory.id)
                    mv.get_profile(include_history=n % 20 == 6)
                if n % 25 == 24:
                    mv.delete(memory.id)
                    emit(event="deleted", id=memory.id, user=user)
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
        """Collect the JSON lines (the reader drains the pipe, so a worker never blocks)."""
        for line in stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "stray", "line": line}
            self.events.append(event)
            if event.get("event") == "ready":
                self.ready.set()
        self.ready.set()  # EOF: the worker died before its barrier; the test reports it

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == kind]

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


def _start(tmp_path: Path, database: Path) -> list[Worker]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    workers: list[Worker] = []
    for index, user in enumerate(WORKER_USERS):
        stderr_path = tmp_path / f"worker-{index}.stderr"
        with stderr_path.open("w", encoding="utf-8") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-W", "ignore::DeprecationWarning", str(script),
                 str(database), user, str(index),
                 str(ADDS_PER_WORKER)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
                encoding="utf-8",
            )
        worker = Worker(index=index, user=user, process=process, stderr_path=stderr_path)
        assert process.stdout is not None
        worker.reader = threading.Thread(target=worker.read, args=(process.stdout,),
                                         daemon=True)
        worker.reader.start()
        workers.append(worker)
    return workers


def _release(workers: list[Worker]) -> None:
    """The barrier: wait (bounded) until every worker is ready, then let them all go."""
    for worker in workers:
        assert worker.ready.wait(START_TIMEOUT), f"worker {worker.index} never got ready"
        assert worker.of("ready"), (
            f"worker {worker.index} exited before the barrier:\n{worker.stderr}"
        )
    for worker in workers:
        assert worker.process.stdin is not None
        worker.process.stdin.write("go\n")
        worker.process.stdin.flush()
    for worker in workers:
        assert worker.process.stdin is not None
        worker.process.stdin.close()


def _finish(workers: list[Worker]) -> None:
    for worker in workers:
        try:
            worker.process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            for other in workers:
                other.process.kill()
            pytest.fail(f"worker {worker.index} did not finish in {RUN_TIMEOUT} s")
        assert worker.reader is not None
        worker.reader.join(timeout=10)
        assert not worker.reader.is_alive()


def _all_ids(mv: SyncMemvault, user: str) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = mv.list(user_id=user, limit=100, cursor=cursor)
        ids.extend(m.id for m in page.items)
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def _body(lines: list[str]) -> list[str]:
    """An export without its header (which carries the export time), its audit lines
    (each store's own record: an import records itself anew) and its end line (which counts
    them), in a stable order."""
    assert json.loads(lines[0])["type"] == "header"
    assert json.loads(lines[-1])["type"] == "end"
    return sorted(line for line in lines[1:-1] if '"type": "audit"' not in line)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Worker]]:
    """Run the workers once; the tests below check different aspects of the outcome."""
    tmp_path = tmp_path_factory.mktemp("multiprocess")
    database = tmp_path / "shared.db"
    workers = _start(tmp_path, database)
    try:
        _release(workers)
        _finish(workers)
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait(timeout=10)
    return database, workers


def test_every_worker_succeeds_without_lock_errors(run: tuple[Path, list[Worker]]) -> None:
    _, workers = run
    for worker in workers:
        errors = [e["error"] for e in worker.of("error")]
        text = "\n".join(errors) + worker.stderr
        assert "locked" not in text.lower(), f"worker {worker.index}: {text}"
        assert "busy" not in text.lower(), f"worker {worker.index}: {text}"
        assert not errors, f"worker {worker.index} failed:\n{errors[0]}"
        # A swallowed failure (e.g. working memory) is logged to stderr: there must be none.
        assert worker.stderr.strip() == "", f"worker {worker.index} stderr:\n{worker.stderr}"
        assert worker.process.returncode == 0
        assert worker.of("done")
        assert len(worker.of("added")) == ADDS_PER_WORKER + ADDS_PER_WORKER // 20


def test_every_acknowledged_write_is_present(run: tuple[Path, list[Worker]]) -> None:
    database, workers = run
    expected: dict[str, set[str]] = defaultdict(set)
    deleted: set[str] = set()
    for worker in workers:
        expected[worker.user] |= {e["id"] for e in worker.of("added")}
        deleted |= {e["id"] for e in worker.of("deleted")}
    all_acknowledged = set().union(*expected.values())
    assert len(all_acknowledged) == sum(len(w.of("added")) for w in workers), "duplicate ids"
    assert deleted
    with SyncMemvault.open(database, user_id="alice", embedder="none") as mv:
        total = 0
        for user, ids in expected.items():
            stored = _all_ids(mv, user)
            assert len(stored) == len(set(stored)), f"{user}: a page repeated a memory"
            assert set(stored) == ids - deleted, user
            total += len(stored)
            for memory_id in sorted(ids - deleted)[:25]:
                assert mv.get(memory_id, user_id=user).user_id == user
            for memory_id in sorted(ids & deleted):
                with pytest.raises(NotFound):
                    mv.get(memory_id, user_id=user)
        assert total == len(all_acknowledged - deleted)
        episodic = next(s for s in mv.status() if s.role == "episodic")
        assert episodic.detail.split(";")[0] == f"{total} memories"


def test_sessions_and_profiles_are_consistent(run: tuple[Path, list[Worker]]) -> None:
    database, workers = run
    with SyncMemvault.open(database, user_id="alice", embedder="none") as mv:
        for user in set(WORKER_USERS):
            mine = [w for w in workers if w.user == user]
            # Each profile write set two keys with new values: one row each, one current.
            writes = [e["facts"] for w in mine for e in w.of("facts")]
            profile = mv.get_profile(user_id=user, include_history=True)
            keys = Counter(key for facts in writes for key in facts)
            assert Counter(f.key for f in [*profile.facts, *profile.history]) == keys
            assert sorted(f.key for f in profile.facts) == sorted(keys)
            assert {f.user_id for f in [*profile.facts, *profile.history]} == {user}
            for worker in mine:
                last = max(e["facts"][f"w{worker.index}_last"] for e in worker.of("facts"))
                current = {f.key: f.value for f in profile.facts}
                assert current[f"w{worker.index}_last"] == last
            moods = {facts["mood"] for facts in writes}
            assert {f.value for f in profile.facts if f.key == "mood"} <= moods

            # Working memory kept the newest turns of the session all processes shared.
            shared = mv.list(user_id=user, session_id="shared", memory_type="working",
                             limit=100).items
            deleted = {e["id"] for w in mine for e in w.of("deleted")}
            live = {e["id"] for w in mine for e in w.of("added")
                    if e["session"] == "shared"} - deleted
            assert len(shared) == min(mv.config.working_max_turns, len(live))
            assert {m.id for m in shared} <= live
            assert all(m.user_id == user for m in shared)


def test_users_stay_apart(run: tuple[Path, list[Worker]]) -> None:
    database, workers = run
    with SyncMemvault.open(database, user_id="alice", embedder="none") as mv:
        for worker in workers:
            added = worker.of("added")
            deleted = {e["id"] for e in worker.of("deleted")}
            sample = [e for e in added if e["id"] not in deleted][::17]
            for other in set(WORKER_USERS) - {worker.user}:
                for event in sample:
                    with pytest.raises(NotFound):
                        mv.get(event["id"], user_id=other)
                    assert mv.search(event["token"], user_id=other).hits == []
            for event in sample:
                hits = mv.search(event["token"], user_id=worker.user).hits
                assert event["id"] in [h.memory.id for h in hits]


def test_export_import_reproduces_the_file(
    run: tuple[Path, list[Worker]], tmp_path: Path
) -> None:
    database, workers = run
    with SyncMemvault.open(database, user_id="alice", embedder="none") as mv:
        exported = mv.export(all_users=True)
    memory_lines = [json.loads(line) for line in exported if '"type": "memory"' in line]
    acknowledged = {e["id"] for w in workers for e in w.of("added")}
    deleted = {e["id"] for w in workers for e in w.of("deleted")}
    assert {m["id"] for m in memory_lines} == acknowledged - deleted

    with SyncMemvault.open(tmp_path / "copy.db", user_id="alice", embedder="none") as copy:
        report = copy.import_lines(exported)
        again = copy.export(all_users=True)
        assert copy.import_lines(exported).skipped == report.memories + report.profile_facts
    assert report.memories == len(memory_lines)
    assert report.skipped == 0
    assert _body(again) == _body(exported)
