"""Keys and the one field cipher for encryption at rest.

A key is a passphrase of at least :data:`MIN_KEY_CHARS` characters, from
:class:`memvault.config.EncryptionConfig` (the current key, and older keys still read): given
as it is, read from a file, or read from the OS keyring (the ``keyring`` package, imported
only then). The
embedded store hands the current one to SQLCipher, which encrypts the whole file
(:mod:`memvault.stores.sqlite.cipher`). The server stores encrypt single values with
:class:`FieldCipher`: AES-256-GCM under a key derived from the passphrase with HKDF-SHA256, a
fresh 96-bit nonce per value, and associated data naming where the value belongs (its row),
so a sealed value copied into another row does not open. A sealed value is text::

    mv1:<kid>:<base64url(nonce || ciphertext || tag)>

``kid`` is 12 hex digits of a hash of the key, so a reader finds the key that sealed a value
among the current and old keys, and ``memvault rekey --fields`` finds the values still sealed
under an old one. Text not starting with ``mv1:`` is a value written before encryption was
switched on, read as it is. ``cryptography`` is imported only when a cipher is built.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memvault.config import EncryptionConfig
from memvault.errors import ConfigError, EncryptionError

__all__ = ["MIN_KEY_CHARS", "PREFIX", "FieldCipher", "Key", "KeySet", "check_sealed"]

MIN_KEY_CHARS = 16
PREFIX = "mv1:"
_NONCE = 12


@dataclass(frozen=True)
class Key:
    """One passphrase; ``source`` says where it came from, for error messages."""

    secret: str = field(repr=False)
    source: str

    @property
    def kid(self) -> str:
        return hashlib.sha256(b"memvault key id\0" + self.secret.encode()).hexdigest()[:12]


def _read_key(path: Path, setting: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise EncryptionError(f"cannot read the encryption key file {path} ({setting}): "
                              f"{exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise EncryptionError(f"the encryption key file {path} ({setting}) is not UTF-8 "
                              "text") from None


def _from_keyring(service: str, name: str) -> str:
    """The password of the OS keyring's entry ``service``/``name`` (the ``keyring`` package,
    whichever backend it finds: Secret Service, macOS Keychain, Windows Credential Locker)."""
    entry = f"{service}/{name}"
    try:
        import keyring
        from keyring.errors import KeyringError, NoKeyringError
    except ImportError as exc:
        raise ConfigError("an encryption key from the OS keyring needs the keyring package: "
                          f"pip install 'memvault[keyring]' ({exc})") from exc
    try:
        secret = keyring.get_password(service, name)
    except NoKeyringError:
        raise EncryptionError(
            f"no OS keyring is available here for the encryption key {entry} "
            "(MEMVAULT_ENCRYPTION_KEYRING): give MEMVAULT_ENCRYPTION_KEY or "
            "MEMVAULT_ENCRYPTION_KEY_FILE instead") from None
    except KeyringError as exc:
        raise EncryptionError(f"the OS keyring did not give the encryption key {entry} "
                              f"(MEMVAULT_ENCRYPTION_KEYRING): {exc}") from None
    if secret is None:
        raise EncryptionError(
            f"the OS keyring holds no encryption key {entry} (MEMVAULT_ENCRYPTION_KEYRING): "
            f"store one with `keyring set {service} {name}`")
    return secret.strip()


def _checked(secret: str, source: str) -> Key:
    if len(secret) < MIN_KEY_CHARS:
        raise ConfigError(f"the encryption key ({source}) must have at least {MIN_KEY_CHARS} "
                          f"characters; `memvault token` prints a good one")
    return Key(secret, source)


@dataclass(frozen=True)
class KeySet:
    """The current key and the old ones still read (never written with)."""

    current: Key
    old: tuple[Key, ...] = ()

    @classmethod
    def from_config(cls, config: EncryptionConfig) -> KeySet | None:
        """The keys ``config`` names, files read now; ``None`` when encryption is off."""
        if config.key is not None:
            current = _checked(config.key.get_secret_value(), "MEMVAULT_ENCRYPTION_KEY")
        elif config.key_file is not None:
            current = _checked(_read_key(config.key_file, "MEMVAULT_ENCRYPTION_KEY_FILE"),
                               str(config.key_file))
        elif config.keyring_entry is not None:
            current = _checked(_from_keyring(*config.keyring_entry),
                               f"keyring {config.keyring}")
        else:
            if config.old_key_files:
                raise ConfigError("old encryption keys are given but no current key")
            return None
        old = tuple(_checked(_read_key(path, "MEMVAULT_ENCRYPTION_OLD_KEY_FILES"), str(path))
                    for path in config.old_key_files)
        return cls(current, tuple(k for k in old if k.kid != current.kid))

    @property
    def all(self) -> tuple[Key, ...]:
        return (self.current, *self.old)

    def by_kid(self, kid: str) -> Key | None:
        return next((key for key in self.all if key.kid == kid), None)


_KEY_SETTINGS = ("MEMVAULT_ENCRYPTION_KEY, MEMVAULT_ENCRYPTION_KEY_FILE or "
                 "MEMVAULT_ENCRYPTION_KEYRING")


def check_sealed(sealed: Iterable[str], keys: KeySet | None, what: str) -> None:
    """Refuse (:class:`EncryptionError`, one line naming the key settings) sealed values,
    among ``sealed``, that ``keys`` cannot open: any, without keys; one under a key id not
    configured. ``what`` names them (e.g. "the profile values in the PostgreSQL store")."""
    kids = {FieldCipher.kid_of(value) for value in sealed if FieldCipher.is_sealed(value)}
    if not kids:
        return
    if keys is None:
        raise EncryptionError(f"{what} are encrypted and no encryption key is configured: "
                              f"give their key ({_KEY_SETTINGS})")
    unknown = sorted(kid for kid in kids if keys.by_kid(kid) is None)
    if unknown:
        raise EncryptionError(
            f"{what} are encrypted under key {', '.join(unknown)}, but the encryption key "
            f"({keys.current.source}) is key {keys.current.kid}: give their key "
            f"({_KEY_SETTINGS}), or name it in MEMVAULT_ENCRYPTION_OLD_KEY_FILES")


def _aesgcm(secret: str) -> Any:
    try:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    except ImportError as exc:
        raise ConfigError("field encryption needs the cryptography package: "
                          f"pip install 'memvault[encryption]' ({exc})") from exc
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"memvault field cipher",
                   info=b"mv1").derive(secret.encode())
    return AESGCM(derived)


class FieldCipher:
    """Seals and opens single values (see the module docstring for the format).

    ``context`` is the associated data: the same bytes must be given to open a value as to
    seal it (e.g. ``b"profile\\0<user>\\0<key>"``)."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys
        self._ciphers: dict[str, Any] = {}

    def _cipher(self, key: Key) -> Any:
        cipher = self._ciphers.get(key.kid)
        if cipher is None:
            cipher = self._ciphers[key.kid] = _aesgcm(key.secret)
        return cipher

    def seal(self, plaintext: str, context: bytes) -> str:
        key = self.keys.current
        nonce = os.urandom(_NONCE)
        sealed = self._cipher(key).encrypt(nonce, plaintext.encode("utf-8", "surrogatepass"),
                                           context)
        return f"{PREFIX}{key.kid}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    @staticmethod
    def is_sealed(value: object) -> bool:
        return isinstance(value, str) and value.startswith(PREFIX)

    @staticmethod
    def kid_of(value: str) -> str:
        return value[len(PREFIX):].partition(":")[0]

    def is_current(self, value: object) -> bool:
        """Whether ``value`` is sealed under the current key (nothing to re-encrypt)."""
        return self.is_sealed(value) and self.kid_of(str(value)) == self.keys.current.kid

    def open(self, value: str, context: bytes) -> str:
        """The plaintext of a sealed value; a value not sealed is returned as it is.

        Raises :class:`EncryptionError` (one line) when the value was sealed under a key not
        configured, or does not open (damaged, or moved from another row)."""
        if not self.is_sealed(value):
            return value
        kid, _, body = value[len(PREFIX):].partition(":")
        key = self.keys.by_kid(kid)
        if key is None:
            raise EncryptionError(
                f"a stored value is encrypted under key {kid}, which is not configured: give "
                f"it as the key ({_KEY_SETTINGS}) or in MEMVAULT_ENCRYPTION_OLD_KEY_FILES "
                f"(encryption.old_key_files; current key: {self.keys.current.kid})")
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.urlsafe_b64decode(body.encode())
            plain: bytes = self._cipher(key).decrypt(raw[:_NONCE], raw[_NONCE:], context)
        except (InvalidTag, ValueError):
            raise EncryptionError(f"a stored value sealed under key {kid} does not open: "
                                  "it is damaged or was moved from another record") from None
        return plain.decode("utf-8", "surrogatepass")

    def reseal(self, value: str, context: bytes) -> str:
        """``value`` sealed under the current key (opened first if sealed under another)."""
        return value if self.is_current(value) else self.seal(self.open(value, context),
                                                              context)

