"""Smoke test of benchmarks/import_speed.py: a small generated export, end to end."""

from __future__ import annotations


def test_import_speed_reports_what_it_measured() -> None:
    from benchmarks import import_speed

    report = import_speed.main(["--conversations", "3", "--messages", "4", "--embedder", "none"])
    assert report["memories"] == 12
    assert report["memories_per_second_with_vectors"] > 0
    assert report["machine"]["cores"]
