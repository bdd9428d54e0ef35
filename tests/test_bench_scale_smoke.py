"""Smoke test of benchmarks/scale.py: a few hundred generated memories, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any


def _module() -> ModuleType:
    from benchmarks import scale

    return scale


def test_scale_benchmark_reports_what_it_measured(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    report: dict[str, Any] = _module().main(
        ["--memories", "400", "--queries", "5", "--single-adds", "3", "--json", str(out)]
    )
    assert json.loads(out.read_text(encoding="utf-8"))["ingest"] == report["ingest"]
    assert report["ingest"]["memories"] == 400
    assert report["stored"] == {"memories": 403, "vectors": 403}
    assert report["add_ms"]["n"] == 3
    assert report["search"]["hybrid_ms"]["n"] == 5
    assert report["search"]["lexical_only_ms"]["n"] == 5
    assert report["settings"]["vectors"].startswith("NOT a model")
    for key in ("cpu", "cores", "python", "memvault"):
        assert report["machine"][key]
