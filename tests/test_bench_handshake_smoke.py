"""Smoke test of benchmarks/handshake.py: one server, spawn to initialize reply."""

from __future__ import annotations


def test_handshake_reports_what_it_measured() -> None:
    from benchmarks import handshake

    report = handshake.main(["--runs", "1", "--embedder", "none"])
    assert len(report["runs"]) == 1
    assert report["median_seconds"] > 0
    assert report["machine"]["cores"]
