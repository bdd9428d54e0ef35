"""memvault's public names (``memvault.__all__``), imported on first use, all resolve to the
objects of their home modules, and importing the package alone loads no core module."""

from __future__ import annotations

import importlib
import subprocess
import sys

import memvault


def test_every_public_name_resolves_to_its_home_module() -> None:
    lazy = set(memvault.__all__) - {"__version__"}
    assert set(memvault._HOME_OF) == lazy  # one entry per public name, no more
    for name in sorted(lazy):
        home = importlib.import_module(memvault._HOME_OF[name])
        assert getattr(memvault, name) is getattr(home, name)


def test_importing_the_package_loads_no_core_module() -> None:
    code = ("import sys, memvault; "
            "print(sorted(m for m in sys.modules if m.startswith('memvault.core')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    assert out == "[]"
