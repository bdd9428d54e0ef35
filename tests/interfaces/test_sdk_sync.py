"""SyncMemvault: the blocking SDK for scripts and notebooks."""

from __future__ import annotations

import inspect
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from memvault import (
    Config,
    InvalidInput,
    Memory,
    Memvault,
    MemvaultError,
    NotFound,
    StoreUnavailable,
    SyncMemvault,
)
from tests.core.fakes import HashEmbedder

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "sync.db"


def test_round_trip_through_the_context_manager(db: Path) -> None:
    with SyncMemvault.open(db, user_id="alice", embedder="none") as mv:
        assert mv.config.user_id == "alice"
        assert mv.wait_until_ready(timeout=5) == "disabled"
        first = mv.add("Alice is allergic to peanuts", session_id="chat-1",
                       metadata={"topic": "health"}, profile={"allergy": "peanuts"},
                       occurred_at="2024-05-01T09:00:00Z")
        second = mv.add("Alice flies to Lisbon on Friday", session_id="chat-1")
        assert isinstance(first, Memory)
        assert first.user_id == "alice"
        assert first.metadata == {"topic": "health"}

        result = mv.search("peanuts allergy")
        # The match, then the next turn of its session, reached through the timeline.
        assert [h.memory.id for h in result.hits] == [first.id, second.id]
        assert result.hits[0].score > result.hits[1].score
        assert result.retrievers == ["lexical"]
        assert mv.get(first.id) == first
        assert [m.id for m in mv.list().items] == [second.id, first.id]
        working = mv.list(session_id="chat-1", memory_type="working").items
        assert [m.id for m in working] == [second.id, first.id]

        profile = mv.get_profile()
        assert [(f.key, f.value, f.source_memory_ids) for f in profile.facts] == [
            ("allergy", "peanuts", [first.id])
        ]
        facts = mv.set_profile({"allergy": "tree nuts", "home": "Porto"})
        assert sorted(f.key for f in facts) == ["allergy", "home"]
        profile = mv.get_profile(include_history=True)
        assert {f.key: f.value for f in profile.facts} == {"allergy": "tree nuts",
                                                           "home": "Porto"}
        assert [f.value for f in profile.history] == ["peanuts"]

        mv.delete(second.id)
        with pytest.raises(NotFound):
            mv.get(second.id)
        assert [m.id for m in mv.list(session_id="chat-1", memory_type="working").items] == [
            first.id
        ]
        stats = {s.role: s for s in mv.status()}
        assert set(stats) == {"episodic", "profile", "working"}
        assert all(s.ok for s in stats.values())

    # The file outlives the process-local object.
    with SyncMemvault.open(db, user_id="alice", embedder="none") as mv:
        assert [m.id for m in mv.list().items] == [first.id]
        assert mv.get(first.id).occurred_at == first.occurred_at


def test_add_many_and_delete_all_are_scoped(db: Path) -> None:
    with SyncMemvault.open(db, user_id="alice", embedder="none") as mv:
        batch = mv.add_many([{"content": "one", "session_id": "a"},
                             {"content": "two", "session_id": "b"},
                             {"content": "three", "session_id": "b"}])
        assert [m.content for m in batch] == ["one", "two", "three"]
        bob = mv.add("bob's note", user_id="bob", profile={"team": "blue"})
        mv.set_profile({"team": "red"})

        report = mv.delete_all(session_id="b")
        assert (report.memories, report.profile_facts) == (2, 0)
        assert [m.content for m in mv.list().items] == ["one"]

        report = mv.delete_all()
        assert (report.memories, report.profile_facts) == (1, 1)
        assert mv.list().items == []
        assert mv.get_profile().facts == []
        # Bob is untouched.
        assert mv.get(bob.id, user_id="bob") == bob
        assert [f.value for f in mv.get_profile(user_id="bob").facts] == ["blue"]


def test_export_and_import_lines(db: Path, tmp_path: Path) -> None:
    with SyncMemvault.open(db, user_id="alice", embedder="none") as mv:
        mv.add("first turn", session_id="s", profile={"city": "Berlin"},
               occurred_at="2024-01-02T03:04:05.678901+01:00")
        mv.add("second turn", session_id="s", metadata={"k": [1, 2]})
        mv.set_profile({"city": "Hamburg"})
        mv.add("someone else", user_id="bob")
        lines = mv.export()
        everyone = mv.export(all_users=True)
    assert all(isinstance(line, str) and "\n" not in line for line in lines)
    assert json.loads(lines[0])["format"] == "memvault-export"
    kinds = [json.loads(line)["type"] for line in lines]
    assert kinds == ["header", "memory", "memory", "profile_fact", "profile_fact", "audit",
                     "audit", "audit", "end"]
    assert len(everyone) == len(lines) + 2  # bob's memory and its audit line

    with SyncMemvault.open(tmp_path / "copy.db", user_id="alice", embedder="none") as copy:
        seen: list[int] = []
        report = copy.import_lines(iter(lines), progress=seen.append)
        assert (report.memories, report.profile_facts, report.skipped) == (2, 2, 0)
        assert sum(seen) == 2
        def body(export: list[str]) -> list[str]:  # the audit trail is each store's own
            return [line for line in export[1:-1] if '"type": "audit"' not in line]

        assert body(copy.export()) == body(lines)
        assert copy.import_lines(lines).skipped == 4
        assert body(copy.export()) == body(lines)


def test_errors_propagate_as_memvault_exceptions(db: Path) -> None:
    with SyncMemvault.open(db, user_id="alice", embedder="none") as mv:
        kept = mv.add("keep me")
        with pytest.raises(InvalidInput, match="content is empty") as empty:
            mv.add("   ")
        assert type(empty.value) is InvalidInput
        with pytest.raises(InvalidInput, match="occurred_at is not an ISO 8601"):
            mv.add("x", occurred_at="last tuesday")
        with pytest.raises(InvalidInput, match="query is empty"):
            mv.search("")
        with pytest.raises(InvalidInput, match="limit must be between"):
            mv.list(limit=0)
        with pytest.raises(InvalidInput, match="cursor"):
            mv.list(cursor="garbage")
        with pytest.raises(InvalidInput, match="item 1"):
            mv.add_many([{"content": "fine"}, {"content": ""}])
        with pytest.raises(InvalidInput, match="profile is empty"):
            mv.set_profile({})
        with pytest.raises(InvalidInput, match="not a memvault export object"):
            mv.import_lines(["{not json"])
        with pytest.raises(NotFound, match="no memory with id") as missing:
            mv.get("no-such-id")
        assert type(missing.value) is NotFound
        with pytest.raises(NotFound):
            mv.delete("no-such-id")
        with pytest.raises(NotFound):  # another user's id looks the same as a missing one
            mv.get(kept.id, user_id="bob")
        # Nothing above stored anything, and the wrapper still works after the errors.
        assert [m.id for m in mv.list().items] == [kept.id]


def test_an_error_in_the_body_reaches_the_caller_as_itself(db: Path) -> None:
    class Boom(Exception):
        pass

    def fail_inside() -> None:
        with SyncMemvault.open(db, user_id="alice", embedder="none") as mv:
            mv.add("stored before the error")
            raise Boom

    def miss_inside() -> None:
        with SyncMemvault.open(db, user_id="alice", embedder="none") as mv:
            assert len(mv.list().items) == 1
            mv.get("missing")

    with pytest.raises(Boom):
        fail_inside()
    with pytest.raises(NotFound) as missing:  # not wrapped in an exception group
        miss_inside()
    assert type(missing.value) is NotFound


def test_using_it_without_with_is_a_clear_error(db: Path) -> None:
    mv = SyncMemvault.open(db, user_id="alice", embedder="none")
    for call in (lambda: mv.add("x"), lambda: mv.search("x"), mv.list, mv.status,
                 mv.get_profile, mv.export):
        with pytest.raises(RuntimeError, match="use SyncMemvault as a context manager"):
            call()
    assert not db.exists()  # nothing was opened

    with mv:
        mv.add("inside")
    with pytest.raises(RuntimeError, match="context manager"):
        mv.list()


def test_a_failed_open_raises_and_leaves_nothing_running(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    mv = SyncMemvault.open(tmp_path, user_id="alice", embedder="none")  # a directory
    with pytest.raises(StoreUnavailable, match="cannot open"), mv:
        pass
    # The portal's event-loop thread and its worker threads end (anyio stops idle workers
    # without joining them, so give them a bounded moment); earlier tests' threads are ignored.
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=10)
        assert not thread.is_alive(), thread
    with pytest.raises(RuntimeError, match="context manager"):
        mv.list()
    with pytest.raises(MemvaultError, match="invalid configuration"):
        SyncMemvault.open(tmp_path / "x.db", user_id="")


def test_it_can_be_shared_by_threads(db: Path) -> None:
    with SyncMemvault.open(db, user_id="alice", embedder="none") as mv:
        def work(worker: int) -> list[str]:
            ids = []
            for n in range(20):
                memory = mv.add(f"thread {worker} note {n} t{worker}x{n}", session_id="s")
                assert memory.id in [h.memory.id for h in mv.search(f"t{worker}x{n}").hits]
                ids.append(memory.id)
            return ids

        with ThreadPoolExecutor(4) as pool:
            written = {i for ids in pool.map(work, range(4)) for i in ids}
        stored = mv.list(limit=100).items
        assert {m.id for m in stored} == written
        assert len(written) == 80


def test_a_given_embedder_adds_vector_search(db: Path) -> None:
    config = Config.from_flat({"database": str(db), "user_id": "alice"})
    with SyncMemvault(config, embedder=HashEmbedder()) as mv:
        assert mv.wait_until_ready(timeout=10) == "ready"
        memory = mv.add("The quarterly budget review is on Thursday")
        result = mv.search("budget")
        assert result.retrievers == ["lexical", "vector"]
        assert result.hits[0].memory.id == memory.id


def test_every_method_mirrors_the_async_one() -> None:
    public = {name for base in Memvault.__mro__[:-1] for name in vars(base)
              if not name.startswith("_")}
    assert public <= set(vars(SyncMemvault))
    for name in sorted(public | {"__init__"}):
        ours, theirs = getattr(SyncMemvault, name), getattr(Memvault, name)
        mine = inspect.signature(ours).parameters
        async_ = inspect.signature(theirs).parameters
        assert [(p.name, p.kind, p.default, p.annotation) for p in mine.values()] == [
            (p.name, p.kind, p.default, p.annotation) for p in async_.values()
        ], name
