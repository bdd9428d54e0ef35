"""A process that writes one profile key, for the concurrency tests of the profile contract.

``python -m tests.contract.profile_writer URL PLAN`` opens the profile store at ``URL``,
prints ``ready``, waits for ``go`` on stdin (the test's barrier), then carries out the JSON
``PLAN``: a list of ``["set", key, minutes, value, source]`` (state ``key`` of user
``alice`` at ``T0 + minutes``) and ``["forget", source]`` steps, each in its own call. It
prints ``done`` once every step was acknowledged; a failure goes to stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import anyio

from memvault.stores.registry import open_profile
from tests.contract.builders import T0, fact

#: When the workers' withdrawals happen (any time after the statements; only order counts).
FORGET_AT = T0 + timedelta(days=30)


async def _run(url: str, plan: list[list[object]]) -> None:
    store = open_profile(url)
    await store.open()
    try:
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("no go signal")
        for step in plan:
            if step[0] == "set":
                _, key, minutes, value, source = step
                assert isinstance(minutes, int)
                await store.set_facts([fact(str(key), value, minutes=minutes,
                                            source_memory_ids=[str(source)])])
            else:
                await store.forget_sources("alice", [str(step[1])], FORGET_AT)
        print("done", flush=True)
    finally:
        await store.close()


def main() -> None:
    anyio.run(_run, sys.argv[1], json.loads(sys.argv[2]))


if __name__ == "__main__":
    main()
