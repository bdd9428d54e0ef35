"""Memory types of the user's own: configured names with a JSON Schema each
(:class:`~memvault.config.MemoryTypeConfig`).

A typed memory (``type`` and ``data``) is checked here before anything is stored: ``type``
must name a configured type and ``data`` must be valid under its schema (Draft 2020-12); the
error names the field at fault as a path (``data.dose``). A typed memory given without
content gets a readable text rendered from its data (:func:`render`), so that it is found by
its words and by meaning like any other memory; given content is kept verbatim.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from memvault.config import MemoryTypeConfig
from memvault.core.validate import check_json
from memvault.errors import InvalidInput
from memvault.models import JsonValue

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

__all__ = ["TypeRegistry", "render"]

#: How large a typed memory's data may be, as JSON.
MAX_DATA_BYTES = 64_000


def render(type_name: str, data: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    """``"medication: name=Metformin; dose=500 mg; since=2025-03"``: the type, then each
    field as ``name=value``, the schema's properties in their order first. Lists are joined
    with ", ", objects written as compact JSON."""
    declared = list(schema.get("properties", {}))
    names = [n for n in declared if n in data] + [n for n in data if n not in declared]
    parts = [f"{name}={_text(data[name])}" for name in names if data[name] is not None]
    return f"{type_name}: " + "; ".join(parts) if parts else type_name


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _path(error: ValidationError) -> str:
    path = "data"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


class TypeRegistry:
    """The configured memory types of one Memvault."""

    def __init__(self, types: Mapping[str, MemoryTypeConfig]) -> None:
        self.types = dict(types)
        self._validators = {}
        if self.types:  # jsonschema is imported only where types are configured
            from jsonschema import Draft202012Validator

            self._validators = {name: Draft202012Validator(t.json_schema)
                                for name, t in self.types.items()}

    @property
    def names(self) -> list[str]:
        return sorted(self.types)

    def describe(self) -> list[dict[str, Any]]:
        """Each configured type: ``name``, ``description`` and ``schema``, by name."""
        return [{"name": name, "description": self.types[name].description,
                 "schema": self.types[name].json_schema} for name in self.names]

    def check_type(self, value: object, field: str = "type") -> str:
        """``value`` if it names a configured type, else :class:`InvalidInput` naming them."""
        if isinstance(value, str) and value in self.types:
            return value
        if not self.types:
            raise InvalidInput(f"{field} {value!r} is not a memory type: none are configured "
                               "(declare them under [types] in the configuration)")
        raise InvalidInput(f"{field} {value!r} is not a configured memory type; configured: "
                           f"{', '.join(self.names)}")

    def check(self, type_name: object, data: object) -> tuple[str, dict[str, JsonValue]]:
        """The type and a copy of ``data`` if it is valid under the type's schema; the error
        is one line naming the field path (``data.dose: 'x' is not of type 'integer'``)."""
        name = self.check_type(type_name)
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise InvalidInput(f"data must be a JSON object, got {type(data).__name__}")
        checked = check_json(data, "data")
        assert isinstance(checked, dict)
        size = len(json.dumps(checked).encode())
        if size > MAX_DATA_BYTES:
            raise InvalidInput(f"data is {size:,} bytes as JSON, over {MAX_DATA_BYTES:,}")
        errors = sorted(self._validators[name].iter_errors(checked),
                        key=lambda e: (list(map(str, e.absolute_path)), e.message))
        if errors:
            first = errors[0]
            message = " ".join(first.message.split())
            message = message if len(message) <= 300 else message[:297] + "..."
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise InvalidInput(f"{_path(first)}: {message} (memory type {name!r}){more}")
        return name, checked

    def check_known(self, type_name: str, data: dict[str, JsonValue]) -> dict[str, JsonValue]:
        """``data`` checked against ``type_name``'s schema when that type is configured (an
        import keeps the memories of types it does not configure as they are)."""
        if type_name not in self.types:
            return data
        return self.check(type_name, data)[1]

    def render(self, type_name: str, data: Mapping[str, Any]) -> str:
        return render(type_name, data, self.types[type_name].json_schema)
