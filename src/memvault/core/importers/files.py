"""The files an import reads: a file, a folder or a ZIP archive, by format.

A ChatGPT or Claude export is read from its ``conversations.json`` (the file itself, or
found in the folder or ZIP archive the export came as); a mem0 export from its JSON file
(``memories.json`` in a folder or archive); Markdown from every ``.md`` file under a folder,
in name order; the table formats from the file given. Names are relative to what was given,
so positions read ``notes/trip.md: section 2``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from memvault.errors import InvalidInput

__all__ = ["read_source"]

_WANTED = {"chatgpt": ("conversations.json",), "claude": ("conversations.json",),
           "mem0": ("memories.json", "export.json")}


def read_source(path: Path, format: str) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of each file to import from ``path`` (blocking: run it in a
    worker thread); a path that cannot be read is :class:`InvalidInput`."""
    try:
        return _read(path, format)
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def _read(path: Path, format: str) -> list[tuple[str, bytes]]:
    if path.is_dir():
        return _folder(path, format)
    if zipfile.is_zipfile(path) and format != "csv":
        return _archive(path, format)
    return [(path.name, path.read_bytes())]


def _folder(path: Path, format: str) -> list[tuple[str, bytes]]:
    if format == "markdown":
        found = sorted(p for p in path.rglob("*.md") if p.is_file())
        return [(p.relative_to(path).as_posix(), p.read_bytes()) for p in found]
    for name in _WANTED.get(format, ()):
        matches = sorted(path.rglob(name))
        if matches:
            return [(matches[0].relative_to(path).as_posix(), matches[0].read_bytes())]
    raise InvalidInput(f"{path}: is a folder; give the {format} file to import"
                       + (f" (no {' or '.join(_WANTED[format])} in it)"
                          if format in _WANTED else ""))


def _archive(path: Path, format: str) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist() if not n.endswith("/"))
        if format == "markdown":
            return [(n, archive.read(n)) for n in names if n.endswith(".md")]
        for wanted in _WANTED.get(format, ()):
            for name in names:
                if PurePosixPath(name).name == wanted:
                    return [(f"{path.name}/{name}", archive.read(name))]
    raise InvalidInput(f"{path}: no {format} export found in this archive")
