"""What the store modules may import: the ground floor (models, errors, config, passages, analysis),
the shared modules at the top of ``memvault.stores`` and their own backend package, never
another backend, the core or an interface."""

from __future__ import annotations

import ast
from pathlib import Path

import memvault.stores

STORES = Path(memvault.stores.__file__).parent
GROUND_FLOOR = {"memvault.models", "memvault.errors", "memvault.config", "memvault.passages",
                "memvault.analysis"}


def _memvault_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            if node.module in ("memvault", "memvault.stores"):  # from memvault import core
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "memvault" or name.startswith("memvault.")}


def _allowed(module: str, backend: str | None, name: str) -> bool:
    if name in GROUND_FLOOR or name == module:
        return True
    if name == "memvault":
        return False
    parts = name.split(".")
    if parts[:2] != ["memvault", "stores"]:
        return False
    if len(parts) == 2:
        return True  # the package itself
    if (STORES / f"{parts[2]}.py").exists():
        return True  # a shared module: base, codec, migrations, cache, registry
    return parts[2] == backend


def test_stores_import_only_the_ground_floor_the_shared_modules_and_their_own_backend() -> None:
    wrong: list[str] = []
    for path in sorted(STORES.rglob("*.py")):
        relative = path.relative_to(STORES).with_suffix("")
        backend = relative.parts[0] if len(relative.parts) > 1 else None
        module = ".".join(("memvault", "stores", *relative.parts))
        wrong += [f"{module} imports {name}" for name in sorted(_memvault_imports(path))
                  if not _allowed(module, backend, name)]
    assert wrong == []
