"""A progress bar for long migration steps, drawn only where a person is watching.

A migration that re-indexes every memory runs when a store opens, often inside a server
whose standard error is a log file or a pipe to an MCP client: there nothing is drawn. On a
terminal (``memvault doctor`` or ``memvault search`` after an upgrade) one line is redrawn in
place, at most once per percent.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TextIO

__all__ = ["MIN_ITEMS", "Progress"]

#: Fewer items than this are done before a bar would be worth reading.
MIN_ITEMS = 1_000


class Progress:
    """``with Progress(label, total) as p: ... p.advance(n)``; draws on ``stream``
    (standard error) when it is a terminal and ``total`` is at least :data:`MIN_ITEMS`."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = sys.stderr if stream is None else stream
        self._shown = -1
        self._draw = total >= MIN_ITEMS and _is_terminal(self._stream)

    def __enter__(self) -> Progress:
        self._render()
        return self

    def advance(self, count: int) -> None:
        self.done = min(self.done + count, self.total)
        self._render()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._draw and self._shown >= 0:
            self._stream.write("\n")
            self._stream.flush()

    def _render(self) -> None:
        if not self._draw:
            return
        percent = self.done * 100 // max(self.total, 1)
        if percent == self._shown:
            return
        self._shown = percent
        filled = percent * 30 // 100
        self._stream.write(f"\r{self.label} [{'#' * filled}{'-' * (30 - filled)}]"
                           f" {self.done}/{self.total}")
        self._stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False
