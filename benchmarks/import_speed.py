"""Import speed: memories per second from a generated ChatGPT export, vectors included.

Builds a ``conversations.json`` of ``--conversations`` chats of ``--messages`` turns each
(a user/assistant exchange about varied topics, each chat with one regenerated answer on an
abandoned branch), imports it into a fresh SQLite store with ``Memvault.import_from`` and
waits until every memory has its vector. Reports the parse-and-write time, the time until
the last vector was stored, and memories per second for both.

Usage::

    python benchmarks/import_speed.py --embedder local
    python benchmarks/import_speed.py --conversations 20 --messages 10 --embedder none
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: the benchmarks package is in the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from benchmarks.common import load_average, machine, positive, write_json
from memvault import Memvault

_TOPICS = ("the trip to Lisbon", "the kitchen budget", "learning Portuguese", "the dentist",
           "the quarterly report", "a birthday present for Sam", "running a half marathon",
           "the new laptop", "renting a flat in Porto", "the book club")


def conversations(count: int, messages: int) -> list[dict[str, Any]]:
    """A ChatGPT export of ``count`` chats of ``messages`` turns on the current branch."""
    chats = []
    for c in range(count):
        mapping: dict[str, Any] = {"root": {"id": "root", "message": None, "parent": None,
                                            "children": ["n0"]}}
        for i in range(messages):
            role = "user" if i % 2 == 0 else "assistant"
            topic = _TOPICS[(c + i) % len(_TOPICS)]
            text = (f"Question {i} about {topic}: what should I do next week?" if role == "user"
                    else f"About {topic}: plan it step by step, starting with item {i}.")
            node = f"n{i}"
            mapping[node] = {"id": node, "parent": "root" if i == 0 else f"n{i - 1}",
                             "children": [f"n{i + 1}"] if i + 1 < messages else [],
                             "message": {"id": f"{c}-{node}", "author": {"role": role},
                                         "create_time": 1714550400.0 + c * 3600 + i * 30,
                                         "content": {"content_type": "text", "parts": [text]}}}
        mapping["n1"]["children"].append("alt")  # a regenerated answer, not imported
        mapping["alt"] = {"id": "alt", "parent": "n1", "children": [], "message": {
            "id": f"{c}-alt", "author": {"role": "assistant"}, "create_time": 1714550401.0,
            "content": {"content_type": "text", "parts": ["an abandoned answer"]}}}
        chats.append({"id": f"conv-{c}", "title": f"Chat {c}", "mapping": mapping,
                      "current_node": f"n{messages - 1}", "create_time": 1714550400.0})
    return chats


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data = json.dumps(conversations(args.conversations, args.messages)).encode()
    start_load = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        async with Memvault.open(Path(tmp) / "m.db", user_id="bench",
                                 embedder=args.embedder) as mv:
            await mv.wait_until_ready(timeout=300)
            started = time.perf_counter()
            report = await mv.import_from(data, format="chatgpt", name="conversations.json")
            written = time.perf_counter() - started
            await mv.wait_for_vectors()
            done = time.perf_counter() - started
            doctor = await mv.doctor()
    vectors = doctor.vectors.vectors if doctor.vectors else 0
    return {
        "memories": report.memories, "vectors": vectors, "embedder": args.embedder,
        "write_seconds": round(written, 3), "with_vectors_seconds": round(done, 3),
        "memories_per_second_written": round(report.memories / written, 1),
        "memories_per_second_with_vectors": round(report.memories / done, 1),
        "machine": machine([start_load, load_average()]),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=positive, default=100)
    parser.add_argument("--messages", type=positive, default=20)
    parser.add_argument("--embedder", default="local", choices=["local", "none", "e5"])
    parser.add_argument("--json", type=Path, help="Also write the report here.")
    args = parser.parse_args(argv)
    report: dict[str, Any] = anyio.run(run, args)
    print(json.dumps(report, indent=2))
    if args.json is not None:
        write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
