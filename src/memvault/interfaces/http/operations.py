"""The REST API's declaration: every route's request and response models, in one table.

:data:`OPERATIONS` lists the routes; :mod:`memvault.interfaces.http.rest` serves them and
:mod:`memvault.interfaces.http.openapi` documents them, both from this table, so the two cannot
disagree. The arguments' texts come from :mod:`memvault.interfaces.schemas`, shared with the
MCP tools and the CLI.

Bodies are JSON objects validated against the request models (unknown fields are refused,
with no coercion); query parameters are parsed into their models' types; answers are the
core models as ``model_dump(mode="json")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from memvault.core.exchange import ImportReport
from memvault.core.importers import Format as ImportFormat
from memvault.interfaces import schemas
from memvault.models import (
    DeleteReport,
    KeyScope,
    Memory,
    MemoryPage,
    MemoryType,
    MemoryVersion,
    Profile,
    ProfileFact,
    SearchResult,
)

__all__ = [
    "MAX_BATCH_ITEMS",
    "MAX_IMPORT_BYTES",
    "NDJSON",
    "OPERATIONS",
    "AddManyRequest",
    "AddManyResponse",
    "AddMemoryRequest",
    "BatchItem",
    "DeleteAllRequest",
    "DeleteResponse",
    "ErrorType",
    "ForgetResponse",
    "ImportQuery",
    "ListQuery",
    "MemoryRecord",
    "MemoryTypeInfo",
    "NoQuery",
    "OpenAPIDocument",
    "Operation",
    "ProfileQuery",
    "SearchRequest",
    "SetProfileRequest",
    "SetProfileResponse",
    "TypesResponse",
    "UpdateMemoryRequest",
]

MAX_BATCH_ITEMS = 1_000
MAX_IMPORT_BYTES = 256 * 1024 * 1024
NDJSON = "application/x-ndjson"

ErrorType = Literal[
    "InvalidInput", "Forbidden", "NotFound", "MethodNotAllowed", "PayloadTooLarge",
    "UnsupportedMediaType", "ConfigError", "StoreUnavailable", "InternalError",
]


@dataclass(frozen=True)
class Operation:
    """One REST route: ``method path`` (relative to ``/v1``) and what it takes and returns.

    ``name`` is the operationId and the name of the handler serving it. ``query`` is a model
    whose fields are the query parameters; ``body`` the JSON request body; ``response`` the
    JSON answer (``None`` with ``media_type`` other than JSON: a body described in words).
    ``uses_store``: acts for a user (identity headers) on the stores (may answer 503);
    ``session_header``: reads ``X-Session-ID``; ``upload``: the body is a file, of any
    media type. ``idempotency``: where the route takes
    idempotency keys (the ``Idempotency-Key`` header, or a field of each batch item); such a
    route answers 422 for a key reused with another request. ``scope``: the least a
    credential must allow to call it (a ``read`` key is refused the others with 403).
    """

    name: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    summary: str
    description: str = ""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    media_type: str = "application/json"
    uses_store: bool = True
    session_header: bool = False
    idempotency: Literal["header", "items"] | None = None
    scope: KeyScope = "read"
    #: The route takes a file as its body (any media type), not a JSON object.
    upload: bool = False


# -- requests ----------------------------------------------------------------------------------

class _Body(BaseModel):
    """A JSON body: unknown fields refused, no coercion (``"5"`` is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class _Query(BaseModel):
    """Query parameters: unknown ones refused; strings parsed into the fields' types."""

    model_config = ConfigDict(extra="forbid")


_LIMIT = schemas.LIMIT_RANGE
_CONTEXT = schemas.CONTEXT_RANGE


class AddMemoryRequest(_Body):
    # content, unless the memory is typed (its content is then rendered from its data)
    model_config = ConfigDict(json_schema_extra={
        "anyOf": [{"required": ["content"]}, {"required": ["type"]}]})

    content: str | None = Field(default=None, json_schema_extra=schemas.NON_EMPTY,
                                description=schemas.CONTENT.rest)
    metadata: dict[str, JsonValue] | None = Field(
        default=None, description=schemas.METADATA.rest)
    occurred_at: str | None = Field(default=None, description=schemas.OCCURRED_AT.rest)
    session_id: Annotated[str | None, Field(description=schemas.ADD_SESSION.rest)] = None
    profile: dict[str, JsonValue] | None = Field(default=None, description=schemas.PROFILE.rest)
    type: str | None = Field(default=None, description=schemas.TYPE.rest)
    data: dict[str, JsonValue] | None = Field(default=None, description=schemas.DATA.rest)


class BatchItem(AddMemoryRequest):
    idempotency_key: str | None = Field(
        default=None, json_schema_extra=schemas.IDEMPOTENCY_KEY_SCHEMA,
        description="This item's idempotency key (a batch takes no Idempotency-Key header): "
        "an item with a key this user already stored with the same fields stores nothing "
        "and is answered with the memory first stored; with other fields the whole batch "
        "is refused (422).")


class AddManyRequest(_Body):
    items: list[BatchItem] = Field(
        min_length=1, max_length=MAX_BATCH_ITEMS,
        description="The memories to store, in order, in one transaction: if any item is "
        "invalid, none is stored.")


class SearchRequest(_Body):
    query: str = Field(json_schema_extra=schemas.NON_EMPTY, description=schemas.QUERY.rest)
    limit: int = Field(default=10, ge=_LIMIT.low, le=_LIMIT.high,
                       description=schemas.SEARCH_LIMIT.rest)
    session_id: Annotated[str | None, Field(description=schemas.SEARCH_SESSION.rest)] = None
    since: str | None = Field(default=None, description=schemas.SINCE.rest)
    until: str | None = Field(default=None, description=schemas.UNTIL.rest)
    filters: dict[str, JsonValue] | None = Field(default=None, description=schemas.FILTERS.rest)
    context: int = Field(default=0, ge=_CONTEXT.low, le=_CONTEXT.high,
                         description=schemas.CONTEXT.rest)
    min_score: float = Field(default=0.0, ge=0.0, le=1.0, description=schemas.MIN_SCORE.rest)
    type: str | None = Field(default=None, description=schemas.TYPE_FILTER.rest)


class DeleteAllRequest(_Body):
    confirm: bool = Field(default=False, description=schemas.CONFIRM.rest)
    session_id: str | None = Field(default=None, description=schemas.DELETE_SESSION.rest)


class SetProfileRequest(_Body):
    facts: dict[str, JsonValue] = Field(description=schemas.SET_FACTS.rest)


class UpdateMemoryRequest(_Body):
    content: str | None = Field(default=None, json_schema_extra=schemas.NON_EMPTY,
                                description=schemas.UPDATE_CONTENT.rest)
    metadata: dict[str, JsonValue] | None = Field(
        default=None, description=schemas.UPDATE_METADATA.rest)
    occurred_at: str | None = Field(default=None, description=schemas.UPDATE_OCCURRED_AT.rest)
    data: dict[str, JsonValue] | None = Field(default=None, description=schemas.UPDATE_DATA.rest)


class ListQuery(_Query):
    limit: int = Field(default=20, ge=_LIMIT.low, le=_LIMIT.high,
                       description=schemas.PAGE_LIMIT.rest)
    cursor: str | None = Field(default=None, description=schemas.CURSOR.rest)
    session_id: str | None = Field(default=None, description=schemas.LIST_SESSION.rest)
    memory_type: MemoryType = Field(default="episodic", description=schemas.MEMORY_TYPE.rest)
    type: str | None = Field(default=None, description=schemas.TYPE_FILTER.rest)


class ProfileQuery(_Query):
    include_history: bool = Field(default=False, description=schemas.INCLUDE_HISTORY.rest)


class ImportQuery(_Query):
    format: ImportFormat = Field(default="jsonl", description="What the body is: jsonl (a "
                                 "memvault export, or JSON lines with map), chatgpt or claude "
                                 "(their conversations.json), mem0 (its JSON export), markdown "
                                 "(one note), csv.")
    map: str | None = Field(default=None, description="For csv and jsonl: the column of each "
                            "memory field, e.g. content=text,occurred_at=ts,session_id=conv.")
    skip_invalid: bool = Field(default=False, description="Import the valid records and list "
                               "the others (default: one invalid record imports nothing).")
    name: str | None = Field(default=None, description="The file's name, used in the "
                             "positions of bad records (default: the format's file name).")


class NoQuery(_Query):
    """A route that takes no query parameter (any is refused)."""


# -- responses ---------------------------------------------------------------------------------

class AddManyResponse(BaseModel):
    items: list[Memory] = Field(description="The memories stored, in the order given.")


class DeleteResponse(BaseModel):
    deleted: str


class SetProfileResponse(BaseModel):
    facts: list[ProfileFact] = Field(
        description='The facts just set, then those forgotten (retired_reason "forgotten").')


class MemoryRecord(Memory):
    """A memory with its earlier versions."""

    history: list[MemoryVersion] = Field(
        default_factory=list, description="The versions updates replaced, oldest first.")


class ForgetResponse(BaseModel):
    forgotten: ProfileFact = Field(description="The fact forgotten, as the history now "
                                   "holds it.")


class MemoryTypeInfo(BaseModel):
    name: str = Field(description="The name add_memory's type takes.")
    description: str = Field(description="What memories of this type hold.")
    json_schema: dict[str, JsonValue] = Field(
        alias="schema", description="The JSON Schema (Draft 2020-12) their data follows.")


class TypesResponse(BaseModel):
    types: list[MemoryTypeInfo] = Field(description="The configured memory types, by name.")


class OpenAPIDocument(BaseModel):
    """An OpenAPI 3.1 document."""

    model_config = ConfigDict(extra="allow")

    openapi: str


OPERATIONS: tuple[Operation, ...] = (
    Operation("add_memory", "POST", "/memories", "Store a memory.",
              "Stored verbatim and searchable once this returns. Answers 201 with the "
              "memory and its Location; 200 with the memory first stored when the "
              "Idempotency-Key header repeats an earlier request's.",
              body=AddMemoryRequest, response=Memory, status=201, session_header=True,
              idempotency="header", scope="write"),
    Operation("add_memories", "POST", "/memories/batch", "Store many memories at once.",
              f"One transaction, all or nothing; at most {MAX_BATCH_ITEMS} items. An item "
              "without session_id takes the X-Session-ID header's.",
              body=AddManyRequest, response=AddManyResponse, status=201,
              session_header=True, idempotency="items", scope="write"),
    Operation("list_memories", "GET", "/memories", "List memories, newest first, by page.",
              query=ListQuery, response=MemoryPage, session_header=True),
    Operation("get_memory", "GET", "/memories/{memory_id}", "One memory, in full.",
              "The whole memory, also when a search showed an excerpt of it (a hit with "
              "shortened true). 404 if the user has no memory with that id, another user's "
              "included. Its history lists the versions updates replaced.",
              response=MemoryRecord),
    Operation("update_memory", "PATCH", "/memories/{memory_id}", "Correct one memory.",
              "Replaces the fields given and keeps the rest (at least one is needed); the id "
              "stays and the replaced version goes into the memory's history. New content is "
              "searchable by its words at once and by meaning once its vectors are computed, "
              "behind the answer. The same values again change nothing. 404 if the user has "
              "no memory with that id.",
              body=UpdateMemoryRequest, response=MemoryRecord, scope="write"),
    Operation("delete_memory", "DELETE", "/memories/{memory_id}", "Delete one memory.",
              response=DeleteResponse, scope="write"),
    Operation("search_memories", "POST", "/memories/search", "Search memories.",
              "Hybrid search (full text and vectors, fused), best first. Every hit found is "
              "returned, up to limit; to fit the server's character budget, long content is "
              "shortened to a query-focused excerpt (the hit's shortened and full_length say "
              "so; GET /memories/{memory_id} returns it whole; truncated: some hit was "
              "shortened). Each hit's score (0-1) says how well the memory itself matches "
              "the query, comparably across queries (min_score leaves out lower ones); its "
              "explanation says why it was found (terms matched, cosine similarity, best "
              "passage, the hit it neighbours, speaker, recency).",
              body=SearchRequest, response=SearchResult, session_header=True),
    Operation("delete_all_memories", "POST", "/memories/delete-all",
              "Delete the user's memories, permanently.",
              "Without session_id the profile goes too. Refused (400) unless confirm is true.",
              body=DeleteAllRequest, response=DeleteReport, scope="write"),
    Operation("get_profile", "GET", "/profile", "The user's profile facts.",
              query=ProfileQuery, response=Profile),
    Operation("set_profile", "PUT", "/profile", "Set profile facts.",
              "Sets the keys given (superseding their current values) and forgets those given "
              "null; other keys are kept.",
              body=SetProfileRequest, response=SetProfileResponse, scope="write"),
    Operation("forget_profile_fact", "DELETE", "/profile/{key}", "Forget one profile fact.",
              "The key's current value moves to the history, ended now (retired_reason "
              "\"forgotten\"); the value before it does not come back. 404 if the key has no "
              "current value.",
              response=ForgetResponse, scope="write"),
    Operation("export", "GET", "/export", "Export the user's memories and profile as JSONL.",
              "One JSON object a line: a header ({\"type\": \"header\", \"format\": "
              "\"memvault-export\", \"version\": 3, ...}), then each memory, oldest first "
              "({\"type\": \"memory\", ...Memory}, a typed memory's type as memory_type), "
              "then each profile fact with its history "
              "({\"type\": \"profile_fact\", ...ProfileFact}), the audit trail "
              "({\"type\": \"audit\", ...}), and last an end line counting them "
              "({\"type\": \"end\", \"memories\": n, \"profile_facts\": n, \"audit\": n}). "
              "The same format as `memvault export`; `memvault import` reads it. Streamed: a "
              "failure after the first lines cuts the response short, and a file without "
              "its end line does not import.",
              media_type=NDJSON),
    Operation("import_memories", "POST", "/import", "Import an export file.",
              "The body is the file itself (a ChatGPT or Claude conversations.json, a mem0 "
              f"export, a Markdown note, CSV or JSONL), at most {MAX_IMPORT_BYTES} bytes, "
              "imported as the user's. Idempotent: what is already present is skipped, so a "
              "retry after a failure finishes the import and adds nothing twice. Every record "
              "is checked as an add is; invalid ones are named by position (\"conversations."
              "json: conversation 3, message 7: ...\") and, without skip_invalid, nothing is "
              "imported (400).",
              query=ImportQuery, response=ImportReport, upload=True, scope="write"),
    Operation("list_types", "GET", "/types", "The configured memory types.",
              "Each memory type this server is configured with (the [types] tables of its "
              "configuration): its name, description and the JSON Schema a typed memory's "
              "data must follow. Empty when none are configured.",
              query=NoQuery, response=TypesResponse, uses_store=False),
    Operation("openapi", "GET", "/openapi.json", "This document.",
              response=OpenAPIDocument, uses_store=False),
)
