"""Handshake: how long `memvault serve` over stdio takes to answer MCP ``initialize``.

Spawns the server ``--runs`` times on a fresh SQLite store, sends ``initialize`` at once and
times spawn to reply. Also reads the server's CPU time at the reply (Linux: from
``/proc/<pid>/stat``), which a loaded machine inflates less than wall time. With
``--callgrind`` the server runs under valgrind instead and the report gives the instructions
it executed up to the reply (``callgrind_control --dump`` when the reply is read): the same
on any load, so comparable between two versions on a shared machine.

Usage::

    python benchmarks/handshake.py --runs 5
    python benchmarks/handshake.py --runs 1 --callgrind
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: the benchmarks package is in the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import load_average, machine, package_version, positive, write_json

_INITIALIZE = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "benchmark", "version": "0"}}}) + "\n"
_SERVE = ("from memvault.interfaces.cli.main import main; main()",)


def _cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of process ``pid`` so far; ``None`` without ``/proc``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _instructions(dump: Path) -> int | None:
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    return None


def once(embedder: str, callgrind: bool) -> dict[str, Any]:
    """One server, from spawn to its ``initialize`` reply, then stdin closed."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEMVAULT_")}
        env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
        command = [sys.executable, "-c", *_SERVE, "--database", f"{tmp}/m.db",
                   "--user", "benchmark", "--embedder", embedder, "serve"]
        out = Path(tmp) / "callgrind.out"
        if callgrind:
            command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command]
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, env=env, cwd=tmp)
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            process.stdin.write(_INITIALIZE.encode())
            process.stdin.flush()
            reply = process.stdout.readline()
            seconds = time.perf_counter() - started
            cpu = _cpu_seconds(process.pid)
            if callgrind:
                subprocess.run(["callgrind_control", "--dump", str(process.pid)],
                               capture_output=True, check=False)
            if b'"id":1' not in reply.replace(b" ", b""):
                raise RuntimeError(f"no initialize reply: {reply!r}")
            process.stdin.close()
            process.wait(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        row: dict[str, Any] = {"seconds": round(seconds, 4),
                               "cpu_seconds": None if cpu is None else round(cpu, 3)}
        if callgrind:
            dumps = sorted(p for p in Path(tmp).glob("callgrind.out.*"))
            row["instructions"] = _instructions(dumps[0]) if dumps else None
        return row


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive, default=5)
    parser.add_argument("--embedder", default="auto",
                        choices=["auto", "none", "local", "e5", "openai"])
    parser.add_argument("--callgrind", action="store_true",
                        help="Count instructions under valgrind (about 50 times slower).")
    parser.add_argument("--json", type=Path, help="Also write the report here.")
    args = parser.parse_args(argv)
    if args.callgrind and shutil.which("valgrind") is None:
        parser.error("--callgrind needs valgrind")
    load = [load_average()]
    runs = [once(args.embedder, args.callgrind) for _ in range(args.runs)]
    load.append(load_average())
    report: dict[str, Any] = {
        "embedder": args.embedder,
        "callgrind": args.callgrind,
        "runs": runs,
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "median_cpu_seconds": statistics.median(
            r["cpu_seconds"] for r in runs if r["cpu_seconds"] is not None
        ) if any(r["cpu_seconds"] is not None for r in runs) else None,
        "machine": machine(load, mcp=package_version("mcp")),
    }
    if args.callgrind:
        counts = [r["instructions"] for r in runs if r["instructions"] is not None]
        report["median_instructions"] = statistics.median(counts) if counts else None
    print(json.dumps(report, indent=2))
    if args.json is not None:
        write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
