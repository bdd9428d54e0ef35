"""Multilingual retrieval through MCP, as a desktop client runs it.

``benchmarks/data/multilingual_zh.json`` holds memories in Chinese, English and mixed script
(with indicators such as IP addresses, file paths, CVE ids and hashes) and queries of four
kinds, each naming the one memory it asks about:

* ``zh``: Chinese queries for Chinese memories;
* ``mixed``: mixed-script and indicator queries ("Kubernetes迁移", "10.120.8.21");
* ``cross_en_zh`` / ``cross_zh_en``: English queries for Chinese memories and the reverse.

The script starts ``memvault serve`` over stdio on a new database with the chosen embedder,
adds every memory with ``add_memory``, waits until searches run with vectors (unless the
embedder is ``none``), asks every query with ``search_memory`` and reports hit@1 and hit@3
per kind and overall, and search latency as the client sees it::

    python benchmarks/multilingual.py --embedder none
    python benchmarks/multilingual.py --embedder local --json local.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import latency, load_average, machine, ms_since, write_json

DATA = Path(__file__).resolve().parent / "data" / "multilingual_zh.json"
READY_TIMEOUT = 300.0


async def _call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    if result.is_error or result.structured_content is None:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        raise RuntimeError(f"{tool} failed: {text}")
    return result.structured_content


async def _wait_for_vectors(session: ClientSession) -> float:
    """Seconds until a search runs with the vector retriever."""
    start = time.perf_counter()
    while time.perf_counter() - start < READY_TIMEOUT:
        found = await _call(session, "search_memory", query="warm up", limit=1)
        if "vector" in found.get("retrievers", []) and not found.get("pending"):
            return time.perf_counter() - start
        await asyncio.sleep(0.5)
    raise RuntimeError(f"no vector search after {READY_TIMEOUT:.0f} s")


async def run(embedder: str, data: dict[str, Any], database: Path) -> dict[str, Any]:
    env = {**os.environ, "MEMVAULT_USER_ID": "bench"}
    params = StdioServerParameters(
        command=str(Path(sys.executable).with_name("memvault")),
        args=["--database", str(database), "--embedder", embedder, "serve"],
        env=env,
    )
    hits: dict[str, list[int | None]] = defaultdict(list)
    timings: list[float] = []
    misses: list[dict[str, Any]] = []
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        ids = [(await _call(session, "add_memory", content=m))["id"] for m in data["memories"]]
        ready = 0.0 if embedder == "none" else await _wait_for_vectors(session)
        for item in data["queries"]:
            start = time.perf_counter()
            found = await _call(session, "search_memory", query=item["query"], limit=10)
            timings.append(ms_since(start))
            ranked = [r["memory"]["id"] for r in found["hits"]]
            want = ids[item["expected"]]
            rank = ranked.index(want) + 1 if want in ranked else None
            hits[item["kind"]].append(rank)
            if rank != 1:
                top = found["hits"][0]["memory"]["content"] if found["hits"] else None
                misses.append({"query": item["query"], "rank": rank, "top": top})
    every = [r for ranks in hits.values() for r in ranks]
    rows = {kind: _scores(ranks) for kind, ranks in sorted(hits.items())}
    rows["all"] = _scores(every)
    return {"embedder": embedder, "scores": rows, "search_ms": latency(timings),
            "seconds_until_vectors": round(ready, 1), "misses": misses}


def _scores(ranks: Sequence[int | None]) -> dict[str, Any]:
    n = len(ranks)
    return {"n": n,
            "hit@1": round(sum(1 for r in ranks if r == 1) / n, 4),
            "hit@3": round(sum(1 for r in ranks if r is not None and r <= 3) / n, 4)}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", default="auto",
                        help="auto (the default configuration), none, local, e5, ...")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    data = json.loads(args.data.read_text(encoding="utf-8"))
    before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        report = asyncio.run(run(args.embedder, data, Path(tmp) / "bench.db"))
    report["machine"] = machine([before, load_average()])
    print(f"embedder {report['embedder']}: search p50 {report['search_ms']['p50']:.1f} ms, "
          f"p95 {report['search_ms']['p95']:.1f} ms")
    for kind, row in report["scores"].items():
        print(f"  {kind:12} n={row['n']:3}  hit@1 {row['hit@1']:.3f}  hit@3 {row['hit@3']:.3f}")
    for miss in report["misses"]:
        print(f"  miss: {miss['query']!r} rank {miss['rank']} top {miss['top']!r}")
    if args.json:
        write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
