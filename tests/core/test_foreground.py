"""Background work yields to foreground writes (:mod:`memvault.core.foreground`): a pause of
``quiet_seconds`` is waited for, and never longer than the bound."""

from __future__ import annotations

import anyio
import pytest

from memvault.core.foreground import Foreground

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


async def test_with_no_write_the_background_goes_at_once() -> None:
    foreground = Foreground(quiet_seconds=1000.0, max_wait_seconds=1000.0)
    assert not foreground.busy
    with anyio.fail_after(5):
        await foreground.quiet()


async def test_a_write_running_or_just_ended_is_busy() -> None:
    foreground = Foreground(quiet_seconds=1000.0, max_wait_seconds=1000.0)
    with foreground.write():
        assert foreground.busy
    assert foreground.busy
    eager = Foreground(quiet_seconds=0.0, max_wait_seconds=1000.0)
    with eager.write():
        assert eager.busy
    assert not eager.busy
    with anyio.fail_after(5):
        await eager.quiet()


async def test_the_wait_lasts_the_quiet_interval_after_the_last_write() -> None:
    foreground = Foreground(quiet_seconds=0.05, max_wait_seconds=1000.0)
    with foreground.write():
        pass
    ended = anyio.current_time()
    with anyio.fail_after(5):
        await foreground.quiet()
    assert anyio.current_time() >= ended + 0.05


async def test_endless_writes_hold_the_background_only_up_to_the_bound() -> None:
    foreground = Foreground(quiet_seconds=1000.0, max_wait_seconds=0.05)
    with foreground.write():  # never ends while the background waits
        start = anyio.current_time()
        with anyio.fail_after(5):
            await foreground.quiet()
        assert anyio.current_time() >= start + 0.05
        with anyio.fail_after(5):  # a job that has waited its bound already goes at once
            await foreground.quiet(since=start)
