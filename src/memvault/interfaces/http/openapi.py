"""The OpenAPI 3.1 document of the REST API, built from the routes' pydantic models.

The REST routes are declared as a table of :class:`~memvault.interfaces.http.operations.
Operation` (:data:`~memvault.interfaces.http.operations.OPERATIONS`); this module turns that
table into an OpenAPI document, with the request and response schemas generated from the same
pydantic models the server validates and serialises with. The server serves it at
``GET /v1/openapi.json``; a copy is checked in at ``docs/openapi.json`` (a test keeps the two
equal). Regenerate the copy after changing a route or a model::

    python -m memvault.interfaces.http.openapi > docs/openapi.json
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

from memvault.interfaces import schemas
from memvault.interfaces.http.operations import OPERATIONS, ErrorType, Operation
from memvault.models import StoreStatus

__all__ = [
    "ErrorBody",
    "ErrorDetail",
    "HealthOut",
    "Unauthorized",
    "build_document",
    "main",
    "openapi_document",
    "render",
]


class ErrorDetail(BaseModel):
    type: ErrorType = Field(description="What went wrong, as a stable name.")
    message: str = Field(description="What to fix, in words; names the offending field.")


class ErrorBody(BaseModel):
    """Every REST error but 401."""

    error: ErrorDetail


class Unauthorized(BaseModel):
    """The 401 answer of the bearer-token check, shared with the MCP endpoints."""

    error: str


class HealthOut(BaseModel):
    """``GET /health``: 200 when every store answers, 503 otherwise."""

    status: Literal["ok", "degraded", "unavailable", "starting"]
    stores: list[StoreStatus] = Field(default_factory=list,
                                      description="Absent while the stores are not open.")
    embedder: str | None = Field(default=None, description="The embedder's state.")
    error: str | None = Field(default=None, description="Why the stores are not open.")


class _OutputsAlwaysPresent(GenerateJsonSchema):
    """Responses are ``model_dump(mode="json")``: every field is always there, so mark every
    field required in serialization schemas (generated clients then get non-optional
    fields, nullable where the value may be null)."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        if self.mode == "serialization" and field["type"] != "typed-dict-field":
            return True
        return super().field_is_required(field, total)


_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)}")
_IDENTITY_HEADERS = {
    "XUserId": ("X-User-ID", "The user to act for; default: the credential's user, else the "
                "server's configured user. With a per-user credential it may only repeat "
                "that user (403 otherwise); an admin credential may name any user."),
    "XAgentId": ("X-Agent-ID", "The calling agent; default: the server's configured agent."),
    "XSessionId": ("X-Session-ID", "The current conversation. A session_id in the request "
                   "wins over it."),
}
_ERRORS = {
    400: "Invalid input: a malformed or invalid body, query parameter or header.",
    401: "Missing or wrong bearer credential (only when the server asks for one).",
    403: "The credential does not allow this: another user's X-User-ID (only an admin "
         "credential may act for another user), or a write with a read-only key.",
    404: "No such memory for this user (another user's ids look the same), or no such route.",
    413: "The request body is too large.",
    415: "The request body is not application/json.",
    422: "An idempotency key this user already used for a different request; nothing was "
         "stored.",
    500: "A configuration error on the server, or an unexpected fault.",
    503: "A store is unavailable or the server is still opening its stores; retry later.",
}


def _error_codes(op: Operation) -> list[int]:
    codes = {400, 401, 500}
    if op.body is not None:
        codes |= {413, 415}
    if op.upload:
        codes.add(413)
    if _PATH_PARAM.search(op.path):
        codes.add(404)
    if op.uses_store:
        codes |= {403, 503}
    if op.idempotency is not None:
        codes.add(422)
    return sorted(codes)


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        description = prop.pop("description", "")
        parameters.append({
            "name": name, "in": "query", "required": name in required,
            "description": description, "schema": prop,
        })
    return parameters


def _operation(op: Operation, refs: Mapping[Any, dict[str, Any]]
               ) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(op.path)
    ]
    if op.uses_store:
        parameters += [{"$ref": f"#/components/parameters/{key}"} for key in _IDENTITY_HEADERS
                       if key != "XSessionId" or op.session_header]
    if op.idempotency == "header":
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if op.query is not None:
        parameters += _query_parameters(op.query)
    if op.response is not None:
        content: dict[str, Any] = {op.media_type: {"schema": refs[(op.response, "serialization")]}}
    else:
        content = {op.media_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {
        str(op.status): {"description": op.summary, "content": content},
    }
    if op.idempotency == "header":
        responses["200"] = {
            "description": "A replay: the Idempotency-Key and body of an earlier request of "
            "this user; nothing was stored, the memory is the one first stored.",
            "headers": {"Idempotent-Replayed": {
                "description": "true on a replay.", "schema": {"type": "string",
                                                               "enum": ["true"]}}},
            "content": content,
        }
    for code in _error_codes(op):
        ref = "Unauthorized" if code == 401 else "Error"
        responses[str(code)] = {"$ref": f"#/components/responses/{ref}{code}"}
    out: dict[str, Any] = {"operationId": op.name, "summary": op.summary}
    needs = (f" Needs a {op.scope} credential when the server asks for one (403 otherwise)."
             if op.scope != "read" else "")
    if op.description or needs:
        out["description"] = (op.description + needs).strip()
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    if op.upload:
        out["requestBody"] = {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                "format": "binary"}}},
        }
    out["responses"] = responses
    return out


def build_document(operations: Sequence[Operation], version: str, prefix: str = "/v1"
                   ) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``, mounted at ``prefix``, plus ``/health``."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (ErrorBody, "serialization"), (Unauthorized, "serialization"),
        # /health writes its answer by hand, leaving out what does not apply
        (HealthOut, "validation"),
    ]
    for op in operations:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    refs, definitions = models_json_schema(
        list(dict.fromkeys(models)), ref_template=_REF, schema_generator=_OutputsAlwaysPresent,
    )

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(prefix + op.path, {})[op.method.lower()] = _operation(op, refs)
    paths["/health"] = {"get": {
        "operationId": "health",
        "summary": "Whether the server's stores are open and answering.",
        "description": "Never needs the bearer token.",
        "security": [],
        "responses": {
            "200": {"description": "Every store answers.", "content": {
                "application/json": {"schema": refs[(HealthOut, "validation")]}}},
            "503": {"description": "A store is down, or the stores are not open yet.",
                    "content": {"application/json": {
                        "schema": refs[(HealthOut, "validation")]}}},
        },
    }}

    responses: dict[str, Any] = {}
    for code, description in sorted(_ERRORS.items()):
        ref = "Unauthorized" if code == 401 else "Error"
        responses[f"{ref}{code}"] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=(
                "Unauthorized" if code == 401 else "ErrorBody"))}}},
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "memvault REST API",
            "version": version,
            "description": (
                "memvault's memory operations over plain JSON, for callers that do not speak "
                "MCP. The same server serves MCP at /mcp (or /sse) with the same stores, "
                "identity headers and bearer token. Every operation acts for one user: the "
                "X-User-ID header, else the server's configured user. Errors are "
                '{"error": {"type": ..., "message": ...}} (401: {"error": "..."}).'
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "security": [{"bearerAuth": []}, {}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "parameters": {
                **{key: {"name": header, "in": "header", "required": False,
                         "description": description, "schema": {"type": "string"}}
                   for key, (header, description) in _IDENTITY_HEADERS.items()},
                "IdempotencyKey": {
                    "name": "Idempotency-Key", "in": "header", "required": False,
                    "description": schemas.IDEMPOTENCY_KEY.rest,
                    "schema": {"type": "string", **schemas.IDEMPOTENCY_KEY_SCHEMA},
                },
            },
            "responses": responses,
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "Required on every route but /health when the server asks "
                "for a credential: its --token (MEMVAULT_TOKEN), a per-user key "
                "(`memvault keys create`), or another credential it was configured to "
                "accept.",
            }},
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The REST API's OpenAPI document (shared: do not modify it)."""
    from memvault.__version__ import __version__

    return build_document(OPERATIONS, __version__)


def render(document: dict[str, Any]) -> str:
    """The document as the checked-in file holds it."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Print the REST API's OpenAPI document (see the module docstring)."""
    sys.stdout.write(render(openapi_document()))


if __name__ == "__main__":
    main()
