"""Add latency with profile extraction on and off.

Adds ``--adds`` short memories one after another to a fresh store, first with no LLM
configured, then with extraction on against a scripted OpenAI-compatible chat server on a
loopback port (tests/fake_chat.py, answering one fact per memory after ``--model-ms``), and
reports add p50/p95 of both. With extraction on, the worker runs while the adds are made (its
queue is in the same file), which is what the comparison is for. The scripted server runs in
a process of its own, as a model server does: in this one its threads would hold the GIL the
adds need, which is not a cost memvault's users pay.

Usage::

    python -m benchmarks.extraction --adds 500 --json out.json   # from the repository's root
"""

from __future__ import annotations

import argparse
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

from benchmarks.common import latency, load_average, machine, ms_since, positive_int, write_json
from memvault import Config, Memvault


async def _adds(config: Config, count: int) -> tuple[list[float], bool]:
    times: list[float] = []
    async with Memvault(config) as mv:
        for index in range(count):
            start = time.perf_counter()
            await mv.add(f"note {index}: I like the number {index}")
            times.append(ms_since(start))
        done = await mv.extraction.wait_until_done(120.0)
    return times, done


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


async def main(args: argparse.Namespace) -> dict[str, Any]:
    load = [load_average()]
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder, _model_server(args.model_ms) as (url, sent):
        for name, llm in (("off", {}), ("on", {"model": "scripted", "base_url": url,
                                                 "requests_per_minute": 1_000_000})):
            config = Config.from_flat({"database": str(Path(folder) / f"{name}.db"),
                                       "user_id": "bench", "embedder": "none", "llm": llm})
            times, done = await _adds(config, args.adds)
            report[name] = {**latency(times), "extraction_finished": done}
            print(f"extraction {name}: add p50 {report[name]['p50']:.2f} ms, "
                  f"p95 {report[name]['p95']:.2f} ms")
    report["model_requests"] = sum(sent)
    load.append(load_average())
    report["machine"] = machine(load)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adds", type=positive_int, default=300)
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
