"""Where a search's time goes: CPU and wall clock per stage, on a few LoCoMo conversations.

Ingests the first ``--conversations`` conversations of locomo10.json once (one
``add_many`` per session, as ``locomo.py --batch``), waits for their vectors, then runs
every scored question of those conversations ``--rounds`` times and reports, per search
and per stage, the process CPU time (all threads: the model's, SQLite's workers, the event
loop) and the wall clock. CPU time hardly depends on what else the machine runs, so two
builds can be compared on a busy machine (run with ``OMP_NUM_THREADS=1`` there: idle OpenMP
threads spin on a loaded machine, which counts as CPU time); wall-clock figures are only
valid on a quiet one::

    python benchmarks/search_profile.py path/to/locomo10.json
    python benchmarks/search_profile.py path/to/locomo10.json --embedder none
    python benchmarks/search_profile.py path/to/locomo10.json --cprofile out.prof
    python benchmarks/search_profile.py path/to/locomo10.json --pyinstrument

With ``--stages``, stages are timed by wrapping the store's methods, the embedding
service's ``embed`` and the functions :mod:`memvault.core.search.retrieve` and
:mod:`memvault.core.search.pipeline` call; a stage's time includes what it calls, and
stages that run at once overlap.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import inspect
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

if not __package__:  # run as a script: the benchmarks package is in the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from benchmarks.common import percentile, positive
from benchmarks.locomo_data import Conversation, Question, load_dataset, select
from memvault import Memvault
from memvault.core.search import pipeline, retrieve

__all__ = ["main"]

#: The functions of these modules that are timed as stages, by the name the module uses.
_STAGES: dict[ModuleType, tuple[str, ...]] = {
    retrieve: ("fuse", "fuse_ranks", "stand_in", "feedback_ranking", "neighbours", "spread",
               "gather", "neighbours_of", "session_prior", "diversify", "speakers_named",
               "mask_speakers", "unreached"),
    pipeline: ("retrieve", "working_hits", "_explained", "apply_budget", "terms"),
}
_STORE_METHODS = ("lexical_search", "vector_search", "get", "neighbors", "session_neighbours",
                  "adjacent")


class Timer:
    """Per stage, the CPU and wall seconds of each call while :attr:`on`."""

    def __init__(self) -> None:
        self.on = False
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if not self.on:
            yield
            return
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu[name] += time.process_time() - cpu
            self.wall[name] += time.perf_counter() - wall
            self.calls[name] += 1

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                with self.stage(name):
                    return await fn(*args, **kwargs)
            return timed_async

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                return fn(*args, **kwargs)
        return timed


def _instrument(timer: Timer, mv: Memvault) -> None:
    for module, names in _STAGES.items():
        for name in names:
            if hasattr(module, name):
                setattr(module, name, timer.wrap(name, getattr(module, name)))
    for name in _STORE_METHODS:
        if hasattr(mv.episodic, name):
            setattr(mv.episodic, name, timer.wrap(f"store.{name}", getattr(mv.episodic, name)))
    mv.embedding.embed = timer.wrap("embed", mv.embedding.embed)  # type: ignore[method-assign]


def _profile_reads(mv: Memvault, profiler: cProfile.Profile) -> None:
    """Profile the episodic store's reads, which run in worker threads that the main
    thread's profiler does not see (one read at a time: the store holds a lock)."""
    db = getattr(mv.episodic, "_db", None)
    if db is None:
        return
    read = db.read

    async def profiled(fn: Callable[[Any], Any]) -> Any:
        def run(conn: Any) -> Any:
            profiler.enable()
            try:
                return fn(conn)
            finally:
                profiler.disable()
        return await read(run)

    db.read = profiled


async def _ingest(mv: Memvault, conversation: Conversation) -> None:
    for session in conversation.sessions:
        await mv.add_many([
            {"content": t.content, "session_id": session.session_id,
             "metadata": {"dia_id": t.dia_id}, "occurred_at": session.occurred_at}
            for t in session.turns
        ], user_id=conversation.sample_id)
    await mv.wait_for_vectors()


async def run(conversations: list[Conversation], questions: list[Question],
              args: argparse.Namespace) -> None:
    timer = Timer()
    with tempfile.TemporaryDirectory(prefix="memvault-profile-") as tmp:
        path = args.db or Path(tmp) / "profile.db"
        ingest = not path.exists()
        async with Memvault.open(path, user_id="profile", embedder=args.embedder) as mv:
            state = await mv.wait_until_ready()
            if args.embedder != "none" and state != "ready":
                raise SystemExit(f"error: the embedder is {state}")
            for conversation in conversations if ingest else ():
                await _ingest(mv, conversation)
            if args.stages:
                _instrument(timer, mv)
            for question in questions[:5]:  # warm up
                await mv.search(question.text, user_id=question.sample_id, limit=10)
            cpu_ms: list[float] = []
            wall_ms: list[float] = []
            profiler = cProfile.Profile() if args.cprofile else None
            threads = cProfile.Profile()
            instrument: Any = None
            if args.pyinstrument:
                from pyinstrument import Profiler  # optional, not a dependency
                instrument = Profiler(interval=0.0005, async_mode="enabled")
                instrument.start()
            if profiler is not None:
                _profile_reads(mv, threads)
                profiler.enable()
            timer.on = True
            for _ in range(args.rounds):
                for question in questions:
                    cpu, wall = time.process_time(), time.perf_counter()
                    await mv.search(question.text, user_id=question.sample_id, limit=10)
                    cpu_ms.append((time.process_time() - cpu) * 1000)
                    wall_ms.append((time.perf_counter() - wall) * 1000)
            timer.on = False
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.cprofile)
                threads.dump_stats(f"{args.cprofile}.reads")
            if instrument is not None:
                instrument.stop()
                print(instrument.output_text(unicode=True, color=False, show_all=False))
    _report(timer, cpu_ms, wall_ms)


def _report(timer: Timer, cpu_ms: list[float], wall_ms: list[float]) -> None:
    n = len(cpu_ms)

    def row(name: str, values: list[float]) -> str:
        mean = sum(values) / len(values)
        return (f"{name:<28} mean {mean:7.2f}  p50 {percentile(values, 50):7.2f}  "
                f"p95 {percentile(values, 95):7.2f} ms")

    print(f"{n} searches")
    print(row("search CPU (process)", cpu_ms))
    print(row("search wall", wall_ms))
    if not timer.cpu:
        return
    print(f"\n{'stage':<28} {'calls/search':>12} {'CPU ms':>8} {'wall ms':>8}  (per search)")
    for name in sorted(timer.cpu, key=lambda k: -timer.cpu[k]):
        print(f"{name:<28} {timer.calls[name] / n:12.2f} {timer.cpu[name] * 1000 / n:8.2f} "
              f"{timer.wall[name] * 1000 / n:8.2f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="search_profile.py", description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path, help="path to locomo10.json")
    parser.add_argument("--embedder", choices=["local", "e5", "none"], default="local")
    parser.add_argument("--conversations", type=positive, default=1,
                        help="how many conversations to ingest (default 1)")
    parser.add_argument("--rounds", type=positive, default=1,
                        help="times each question is searched (default 1)")
    parser.add_argument("--stages", action="store_true",
                        help="also time each stage (the timers add about 50 us of CPU each "
                        "call, a few ms per search, to the search's figures)")
    parser.add_argument("--db", type=Path, metavar="FILE",
                        help="keep the store in FILE and reuse it when it exists (made with "
                        "the same --embedder and --conversations)")
    parser.add_argument("--cprofile", type=Path, metavar="OUT",
                        help="write cProfile stats of the timed searches to OUT (the event "
                        "loop's thread) and OUT.reads (the episodic store's reads)")
    parser.add_argument("--pyinstrument", action="store_true",
                        help="print a pyinstrument profile (pip install pyinstrument)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    dataset = load_dataset(args.path)
    conversations, questions = select(dataset, args.conversations, None)
    print(f"{len(questions)} questions over {len(conversations)} conversations", flush=True)
    anyio.run(run, list(conversations), list(questions), args)


if __name__ == "__main__":
    main()
