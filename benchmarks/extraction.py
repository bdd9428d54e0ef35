"""Add latency with profile extraction on and off.

Adds ``--adds`` short memories one after another to a fresh store, with no LLM configured
(``off``) and with extraction on (``on``) against a scripted OpenAI-compatible chat server on
a loopback port (tests/fake_chat.py, answering one fact per memory after ``--model-ms``), in
``--rounds`` alternating rounds (off, on, off, on, ...: a change of the machine's load
touches both alike), and reports of each round add p50/p95, the process's CPU time per add
(all its threads; the scripted server is another process, so this depends less on how
loaded the machine is), and with extraction on how long the backlog took to drain after the
last add, the drain's CPU time per add, and how many jobs were done. ``--eager`` adds a
third mode, extraction on with ``llm.quiet_seconds = 0`` (the worker not yielding to the
adds), for comparison.
``--gap-ms`` waits that long between adds (an agent's pace; the worker then works in the
gaps). The scripted server runs in a process of its own, as a model server does: in this
one its threads would hold the GIL the adds need, which is not a cost memvault's users pay.

Usage::

    python -m benchmarks.extraction --adds 500 --json out.json   # from the repository's root
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
from tests.fake_chat import Scripted, facts, fake_chat

from benchmarks.common import latency, load_average, machine, ms_since, positive, write_json
from memvault import Config, Memvault

DRAIN_TIMEOUT = 600.0


async def _round(config: Config, count: int, gap_ms: float) -> dict[str, Any]:
    times: list[float] = []
    async with Memvault(config) as mv:
        if mv.extraction.active:  # its client is made once, as a server starts
            with anyio.fail_after(60):
                await mv.extraction.started.wait()
        cpu = time.process_time()
        for index in range(count):
            start = time.perf_counter()
            await mv.add(f"note {index}: I like the number {index}")
            times.append(ms_since(start))
            if gap_ms:
                await anyio.sleep(gap_ms / 1000)
        cpu_ms = (time.process_time() - cpu) * 1000
        ended = time.perf_counter()
        row: dict[str, Any] = {**latency(times), "cpu_ms_per_add": cpu_ms / count}
        if mv.extraction.active:
            cpu = time.process_time()
            row["extraction_finished"] = await mv.extraction.wait_until_done(DRAIN_TIMEOUT)
            row["drain_s"] = ms_since(ended) / 1000
            row["drain_cpu_ms_per_add"] = (time.process_time() - cpu) * 1000 / count
            report = await mv.doctor(vectors=False)
            assert report.extraction is not None
            assert report.extraction.queue is not None
            row["jobs_done"] = report.extraction.queue.done
            row["jobs_failed"] = report.extraction.queue.failed
    return row


def _serve(model_ms: float) -> None:
    """Serve the scripted model and print its URL (the ``--serve`` child process)."""

    def script(text: str, body: dict[str, Any]) -> Scripted:
        number = text.split(":", 1)[0].split()[-1]
        answer = facts({"key": f"number_{number}", "value": number, "span": text})
        return Scripted(body=answer.body, delay=model_ms / 1000)

    with fake_chat(script) as chat:
        print(chat.url, flush=True)
        sys.stdin.read()  # until the parent closes the pipe
    print(sum(chat.counts.values()), flush=True)


@contextmanager
def _model_server(model_ms: float) -> Iterator[tuple[str, list[int]]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.extraction", "--serve", "--model-ms", str(model_ms)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[1])
    assert child.stdin is not None
    assert child.stdout is not None
    requests: list[int] = []
    try:
        yield child.stdout.readline().strip(), requests
    finally:
        child.stdin.close()
        reader = threading.Thread(target=lambda: requests.append(int(child.stdout.readline())))
        reader.start()
        reader.join(30)
        child.kill()
        child.wait()


def _modes(args: argparse.Namespace, url: str) -> dict[str, dict[str, Any]]:
    on = {"model": "scripted", "base_url": url, "requests_per_minute": 1_000_000}
    modes: dict[str, dict[str, Any]] = {"off": {}, "on": on}
    if args.eager:
        modes["eager"] = {**on, "quiet_seconds": 0}
    return modes


def _summary(rounds: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Per mode the median over its rounds of p50, p95 and CPU per add, and the median of
    each round's p95 over the ``off`` p95 of the same round number."""
    summary: dict[str, Any] = {}
    for name in names:
        rows = [r[name] for r in rounds]
        summary[name] = {key: statistics.median(row[key] for row in rows)
                         for key in ("p50", "p95", "cpu_ms_per_add")}
        if name != "off":
            summary[name]["p95_over_off"] = statistics.median(
                r[name]["p95"] / r["off"]["p95"] for r in rounds)
            summary[name]["cpu_over_off"] = statistics.median(
                r[name]["cpu_ms_per_add"] / r["off"]["cpu_ms_per_add"] for r in rounds)
            summary[name]["max_drain_s"] = max(row["drain_s"] for row in rows)
            summary[name]["all_done"] = all(
                row["extraction_finished"] and row["jobs_done"] == row["n"] for row in rows)
    return summary


async def main(args: argparse.Namespace) -> dict[str, Any]:
    # A server imports the model client once, when its worker starts: imported here, the
    # first round with extraction on does not pay it during its adds.
    import openai  # noqa: F401

    load = [load_average()]
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder, _model_server(args.model_ms) as (url, sent):
        modes = _modes(args, url)
        for number in range(args.rounds):
            results: dict[str, Any] = {}
            for name, llm in modes.items():
                config = Config.from_flat({
                    "database": str(Path(folder) / f"{name}-{number}.db"),
                    "user_id": "bench", "embedder": "none", "llm": llm})
                row = results[name] = await _round(config, args.adds, args.gap_ms)
                drained = ("" if "drain_s" not in row else
                           f", drained in {row['drain_s']:.1f} s ({row['jobs_done']} done, CPU "
                           f"{row['drain_cpu_ms_per_add']:.2f} ms/add)")
                print(f"round {number + 1} extraction {name}: add p50 {row['p50']:.2f} ms, "
                      f"p95 {row['p95']:.2f} ms, CPU {row['cpu_ms_per_add']:.3f} ms/add"
                      f"{drained}", flush=True)
            rounds.append(results)
    report: dict[str, Any] = {"adds": args.adds, "model_ms": args.model_ms,
                              "gap_ms": args.gap_ms, "rounds": rounds,
                              "summary": _summary(rounds, list(modes))}
    for name, row in report["summary"].items():
        print(f"{name}: median p50 {row['p50']:.2f} ms, p95 {row['p95']:.2f} ms, CPU "
              f"{row['cpu_ms_per_add']:.3f} ms/add"
              + ("" if name == "off" else
                 f"; p95/off {row['p95_over_off']:.2f}, CPU/off {row['cpu_over_off']:.2f}, "
                 f"longest drain {row['max_drain_s']:.1f} s, all done: {row['all_done']}"))
    report["model_requests"] = sum(sent)
    load.append(load_average())
    report["machine"] = machine(load)
    print(f"load average {load[0]} -> {load[1]}")
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adds", type=positive, default=300)
    parser.add_argument("--rounds", type=positive, default=3,
                        help="alternating rounds of each mode")
    parser.add_argument("--eager", action="store_true",
                        help="also run extraction on with the worker not yielding")
    parser.add_argument("--gap-ms", type=float, default=0.0,
                        help="pause between adds")
    parser.add_argument("--model-ms", type=float, default=50.0,
                        help="how long the scripted model takes per request")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        _serve(arguments.model_ms)
        sys.exit(0)
    result = anyio.run(main, arguments)
    if arguments.json:
        write_json(arguments.json, result)
