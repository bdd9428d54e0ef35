"""A keyring backend for tests: entries in a JSON file named by ``MEMVAULT_TEST_KEYRING``
(never the machine's own keyring). A subprocess picks it with
``PYTHON_KEYRING_BACKEND=tests.keyring_backend.FileKeyring``; a test in this process with
``keyring.set_keyring(FileKeyring(path))``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.compat import properties


class FileKeyring(KeyringBackend):
    @properties.classproperty
    def priority(cls) -> float:
        """Viable only where a test named its file: never picked by keyring's own search
        in another process or test."""
        if "MEMVAULT_TEST_KEYRING" not in os.environ:
            raise RuntimeError("MEMVAULT_TEST_KEYRING is not set")
        return 1.0

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self._path = path

    @property
    def path(self) -> Path:
        return self._path or Path(os.environ["MEMVAULT_TEST_KEYRING"])

    def _entries(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        entries: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        return entries

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._entries()
        entries[f"{service}\0{username}"] = password
        self.path.write_text(json.dumps(entries), encoding="utf-8")

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        entries.pop(f"{service}\0{username}", None)
        self.path.write_text(json.dumps(entries), encoding="utf-8")
