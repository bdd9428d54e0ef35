"""Smoke test of benchmarks/scale.py: a few hundred generated memories, end to end."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scale_benchmark", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


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
