"""Memory content and metadata sealed on the graph stores (``encryption.encrypt_content``).

With a :class:`Sealer`, a :Memory node's ``content``, ``metadata`` and ``data`` (a typed
memory's) and a :MemoryVersion's copies of them are :class:`~memvault.stores.crypto.FieldCipher`
values bound to the memory's user and id (a version is a copy of its memory's values, so it
opens with the same context); a pending record's ``facts`` are sealed too. The analysed
full-text copy ``m.text`` is stored empty, so the full-text index holds nothing readable and
lexical search finds no sealed memory. ``metadata_pairs`` and ``data_pairs`` (what a metadata
or data filter tests) become keyed HMAC-SHA256 tokens of each ``[key, value]`` pair and of
each key: equality filters and "key absent" filters still work, and equal values are visible
as equal tokens. The tokens are made under the current key, so after a key change they are
stale until ``memvault rekey --fields`` rewrites them. A memory's ``type`` stays plaintext.

An add's ``idempotency_key`` is stored as a keyed HMAC-SHA256 token of the user and the key
(:meth:`Sealer.idempotency_token`, under its own key derived from the passphrase) and its
``request_hash`` sealed like content: neither confirms a guess at what was added. A lookup
tries the token under every configured key, and the plain key (written before content was
sealed); a token under a key no longer configured no longer matches, so a retry of such an
add is stored anew.

Entity names (:Entity nodes, ``m.entities``), ids, sessions, sources and times stay plaintext:
they link, order and filter the graph.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Any

from memvault.errors import EncryptionError
from memvault.stores.crypto import FieldCipher, KeySet

__all__ = ["Sealer", "open_plain", "stored_keys"]

_CONTENT, _METADATA, _DATA = 4, 7, 11  # positions in a row of MEMORY_FIELDS


def _context(user_id: str, memory_id: str, field: str) -> bytes:
    return f"memory\0{user_id}\0{memory_id}\0{field}".encode("utf-8", "surrogatepass")


def open_plain(value: object) -> object:
    """``value`` as a store without a key reads it: refused if it is sealed."""
    if FieldCipher.is_sealed(value):
        raise EncryptionError("the memories are encrypted and no encryption key is configured "
                              "(or encryption.encrypt_content is off): give the key "
                              "(MEMVAULT_ENCRYPTION_KEY) and MEMVAULT_ENCRYPTION_CONTENT=true")
    return value


class Sealer:
    """Seals and opens one graph store's memory fields under ``keys``."""

    def __init__(self, keys: KeySet) -> None:
        self.cipher = FieldCipher(keys)
        self._token_key = hashlib.sha256(
            b"memvault metadata tokens\0" + keys.current.secret.encode()).digest()
        self._idempotency_keys = [
            hashlib.sha256(b"memvault idempotency keys\0" + key.secret.encode()).digest()
            for key in keys.all]  # the current key's first

    @property
    def current_prefix(self) -> str:
        """What every value sealed under the current key starts with."""
        return f"mv1:{self.cipher.keys.current.kid}:"

    def seal(self, user_id: str, memory_id: str, field: str, text: str) -> str:
        return self.cipher.seal(text, _context(user_id, memory_id, field))

    def open(self, user_id: str, memory_id: str, field: str, value: object) -> Any:
        if not isinstance(value, str):
            return value
        return self.cipher.open(value, _context(user_id, memory_id, field))

    def token(self, text: str) -> str:
        return hmac.new(self._token_key, text.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()

    def pairs(self, pairs: list[str]) -> list[str]:
        """The tokens for plaintext ``metadata_pairs``: one per pair and one per key."""
        keys = {self.key_token(json.loads(pair)[0]) for pair in pairs}
        return sorted({self.token(pair) for pair in pairs} | keys)

    def key_token(self, key: str) -> str:
        return self.token(json.dumps(["key", key]))

    def idempotency_token(self, user_id: str, key: str) -> str:
        """What is stored for ``user_id``'s idempotency ``key``: a token under the current
        key."""
        return self.idempotency_tokens(user_id, key)[0]

    def idempotency_tokens(self, user_id: str, key: str) -> list[str]:
        """The tokens ``key`` may be stored as: under each configured key, current first."""
        text = f"{user_id}\0{key}".encode("utf-8", "surrogatepass")
        return [hmac.new(secret, text, hashlib.sha256).hexdigest()
                for secret in self._idempotency_keys]

    def open_row(self, row: list[Any]) -> list[Any]:
        """A row of MEMORY_FIELDS (and any columns after them) with its fields opened."""
        user_id, memory_id = str(row[1]), str(row[0])
        opened = list(row)
        opened[_CONTENT] = self.open(user_id, memory_id, "content", row[_CONTENT])
        opened[_METADATA] = self.open(user_id, memory_id, "metadata", row[_METADATA])
        opened[_DATA] = self.open(user_id, memory_id, "data", row[_DATA])
        return opened


def stored_keys(sealer: Sealer | None, user_id: str, keys: Iterable[str]) -> dict[str, str]:
    """What each of ``user_id``'s idempotency ``keys`` may be stored as, mapped to the key:
    its tokens under every configured key, and itself (written before content was sealed)."""
    stored_as: dict[str, str] = {}
    for key in dict.fromkeys(keys):
        for form in ([] if sealer is None else sealer.idempotency_tokens(user_id, key)):
            stored_as.setdefault(form, key)
        stored_as.setdefault(key, key)
    return stored_as
