"""What the benchmarks share: percentiles, the machine they ran on, timing and JSON output."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import memvault

__all__ = [
    "latency",
    "load_average",
    "machine",
    "ms_since",
    "package_version",
    "percentile",
    "positive",
    "setting",
    "write_json",
]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency(values: Sequence[float], *, peak: bool = True) -> dict[str, Any]:
    """``n``, ``p50``, ``p95``, ``max`` (unless ``peak`` is false) and ``mean`` of
    ``values``, in that order; ``None`` for each statistic of no values."""
    row: dict[str, Any] = {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
    }
    if peak:
        row["max"] = max(values) if values else None
    row["mean"] = sum(values) / len(values) if values else None
    return row


def ms_since(start: float) -> float:
    """Milliseconds from ``start`` (a :func:`time.perf_counter` reading) to now."""
    return (time.perf_counter() - start) * 1000


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, rounded; ``None`` where the system has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def package_version(package: str) -> str | None:
    """The installed version of ``package``; ``None`` if it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine(load: Sequence[list[float] | None], **extra: str | None) -> dict[str, Any]:
    """The machine and software a benchmark ran on: CPU, cores, RAM, Python, platform and
    memvault, then ``extra`` (versions of what the benchmark depends on), then ``load``
    (the load averages at the start and at the end of the run)."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memvault": memvault.__version__,
        **extra,
        "load_average_start": load[0],
        "load_average_end": load[1],
    }


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1 (argparse names it: "invalid positive
    value")."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def setting(text: str) -> tuple[str, str]:
    """An argparse type: a ``KEY=VALUE`` pair, e.g. a ``SearchConfig`` setting."""
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def write_json(path: Path, report: Mapping[str, Any]) -> None:
    """Write ``report`` to ``path`` (indented, creating its folder) and say so on stdout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nJSON written to {path}")
