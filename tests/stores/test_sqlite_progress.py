"""The re-indexing progress bar is drawn on a terminal only."""

from __future__ import annotations

import io

from memvault.stores.sqlite.progress import MIN_ITEMS, Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_bar_to_the_end() -> None:
    out = _Terminal()
    with Progress("re-indexing", MIN_ITEMS * 2, out) as bar:
        for _ in range(4):
            bar.advance(MIN_ITEMS // 2)
    text = out.getvalue()
    assert text.endswith(f" {MIN_ITEMS * 2}/{MIN_ITEMS * 2}\n")
    assert text.count("\r") == 5  # 0 %, 25 %, 50 %, 75 %, 100 %


def test_a_pipe_or_a_small_step_sees_nothing() -> None:
    piped = io.StringIO()
    with Progress("re-indexing", MIN_ITEMS * 2, piped) as bar:
        bar.advance(MIN_ITEMS * 2)
    small = _Terminal()
    with Progress("re-indexing", MIN_ITEMS - 1, small) as bar:
        bar.advance(MIN_ITEMS - 1)
    assert piped.getvalue() == small.getvalue() == ""
