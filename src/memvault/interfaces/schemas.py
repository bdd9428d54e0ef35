"""The arguments of memvault's operations, declared once for every way in.

Each argument's meaning and bounds are written here, and the MCP tool signatures
(:mod:`memvault.interfaces.mcp.tools`), the REST request models and with them the OpenAPI
document (:mod:`memvault.interfaces.http.operations`) and the CLI's ``--help``
(:mod:`memvault.interfaces.cli.main`) take them from here.

Three readers read them: a model choosing a tool call (``tool``: what to pass and when), a
developer reading the OpenAPI document (``rest``: may name headers and statuses) and a shell
user (``cli``: one short line). An argument whose readers need the same words has one text;
where they need different words, the texts stand side by side in one :class:`ArgText`, so a
change of meaning is made in one place. What each interface adds of its own (the CLI's store
options, the REST batch and profile bodies) stays with that interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, JsonValue, ValidationError

__all__ = [
    "ADD_SESSION",
    "CONFIRM",
    "CONTENT",
    "CONTEXT",
    "CONTEXT_RANGE",
    "CURSOR",
    "DATA",
    "DELETE_SESSION",
    "FILTERS",
    "GET_MEMORY_ID",
    "IDEMPOTENCY_KEY",
    "IDEMPOTENCY_KEY_SCHEMA",
    "INCLUDE_HISTORY",
    "LIMIT_RANGE",
    "LIST_SESSION",
    "MEMORY_ID",
    "MEMORY_TYPE",
    "METADATA",
    "MIN_SCORE",
    "MIN_SCORE_BOUNDS",
    "NON_EMPTY",
    "OCCURRED_AT",
    "PAGE_LIMIT",
    "PROFILE",
    "QUERY",
    "SEARCH_LIMIT",
    "SEARCH_SESSION",
    "SET_FACTS",
    "SINCE",
    "TYPE",
    "TYPES_URI",
    "TYPE_FILTER",
    "UNTIL",
    "UPDATE_CONTENT",
    "UPDATE_DATA",
    "UPDATE_MEMORY_ID",
    "UPDATE_METADATA",
    "UPDATE_OCCURRED_AT",
    "ArgText",
    "Range",
    "describe_invalid",
]


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of an integer argument."""

    low: int
    high: int

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"

    def schema(self) -> dict[str, JsonValue]:
        """The bounds as JSON Schema keywords, for an interface that advertises them."""
        return {"minimum": self.low, "maximum": self.high}


#: JSON Schema keywords of a text argument that must not be empty (``content``, ``query``).
NON_EMPTY: dict[str, JsonValue] = {"minLength": 1}
#: JSON Schema keywords of ``min_score``: a hit's score lies in [0, 1].
MIN_SCORE_BOUNDS: dict[str, JsonValue] = {"minimum": 0, "maximum": 1}


@dataclass(frozen=True)
class ArgText:
    """What one argument means, in the words each reader gets. ``rest`` defaults to
    ``tool``, ``cli`` to ``rest``."""

    tool: str
    rest: str = field(default="")
    cli: str = field(default="")

    def __post_init__(self) -> None:
        if not self.rest:
            object.__setattr__(self, "rest", self.tool)
        if not self.cli:
            object.__setattr__(self, "cli", self.rest)


#: ``limit`` of a search and of a page of memories.
LIMIT_RANGE = Range(1, 100)
#: ``context``: neighbouring turns on each side of a hit.
CONTEXT_RANGE = Range(0, 5)

_SESSION = ("Id of the current conversation, if you have one. Memories added with it are "
            "linked turn to turn; searches with it rank this session's recent turns first.")
_FILTERS = ('{"session_id": ..., "agent_id": ..., "source": ..., "entity": "Anna", '
            '"metadata": {"topic": "travel"}, "type": "deal", "data": {"stage": "won"}}; '
            "data matches fields of typed memories' data")

# -- adding -------------------------------------------------------------------------------------

CONTENT = ArgText(
    tool="The text to remember, verbatim: a message, a fact, a decision or an event. Stored "
    "as given. For a turn of a conversation, start with who said it: 'Anna: I moved to Berlin "
    "in May'. Required unless type is given.",
    rest="The text to remember, verbatim (required unless type is given).",
)
METADATA = ArgText(
    tool='Optional JSON object kept with the memory, e.g. {"topic": "travel"}; search_memory '
    "can filter on its keys.",
    rest='A JSON object kept with the memory, e.g. {"topic": "travel"}; searches can filter on '
    "its keys.",
    cli="JSON object kept with the memory.",
)
OCCURRED_AT = ArgText(
    tool="When it happened, ISO 8601 (2024-05-08 or 2024-05-08T13:56:00+02:00; no timezone "
    "means UTC). Default: now.",
    cli="When it happened, ISO 8601 (default: now).",
)
ADD_SESSION = ArgText(
    tool=_SESSION,
    rest="Id of the current conversation. Memories added with it are linked turn to turn and "
    "kept in its working memory. Wins over the X-Session-ID header.",
    cli="Session (conversation) id.",
)
PROFILE = ArgText(
    tool="Lasting facts about the user that this content states, as key → value, e.g. "
    '{"risk_tolerance": "conservative", "diet": "vegetarian"}. A value may also be '
    '{"value": ..., "category": "preference"}. Setting a key again replaces its old value, '
    "which is kept in the history.",
    rest='Lasting facts about the user that the content states, key → value, e.g. {"diet": '
    '"vegetarian"}, or {"diet": {"value": "vegan", "category": "preference"}}. Setting a key '
    "again supersedes its old value (kept in the history).",
    cli='Profile facts as JSON, e.g. {"diet": "vegan"}.',
)

#: Where the configured memory types are listed, with their JSON Schemas.
TYPES_URI = "memvault://types"

TYPE = ArgText(
    tool="Optional memory type, one of the types configured for this user's memory (listed "
    f"with the schema of their data in the resource {TYPES_URI}). With it, data is required "
    "and content may be omitted.",
    rest="A configured memory type (GET /v1/types lists them with their JSON Schemas); data "
    "must then match its schema, and content may be omitted.",
    cli="Memory type (configured under [types]).",
)
DATA = ArgText(
    tool="The typed memory's fields as a JSON object valid under its type's schema, e.g. "
    '{"name": "Metformin", "dose": "500 mg"}. Without content, a text is made from it '
    "(\"medication: name=Metformin; dose=500 mg\") so it is found by search.",
    rest="A typed memory's fields, a JSON object valid under its type's JSON Schema. Without "
    "content, the content is rendered from it (\"medication: name=Metformin; dose=500 mg\").",
    cli="The typed memory's fields as a JSON object.",
)
TYPE_FILTER = ArgText(
    tool=f"Only memories of this memory type (see {TYPES_URI}).",
    rest="Only memories of this memory type.",
    cli="Only memories of this memory type.",
)

IDEMPOTENCY_KEY = ArgText(
    tool="Optional key that makes a retry safe: if an earlier add_memory of this user had the "
    "same key and the same arguments, nothing is stored again and its result is returned; the "
    "same key with other arguments is an error. Use a new unique value (e.g. a UUID) for each "
    "new memory and reuse it only to retry that call.",
    rest="Makes a retry safe (draft-ietf-httpapi-idempotency-key-header): a request with a "
    "key this user already sent with the same body stores nothing and answers 200 with the "
    "first response's body and Idempotent-Replayed: true; the same key with another body "
    "answers 422. At most 256 printable ASCII characters, optionally in double quotes (an "
    "sf-string); a blank key answers 400.",
    cli="Key that makes retrying this add safe: the same key and arguments print the first "
    "memory's id and store nothing.",
)
#: JSON Schema keywords of an idempotency key: 1-256 characters, not blank.
IDEMPOTENCY_KEY_SCHEMA: dict[str, JsonValue] = {"minLength": 1, "maxLength": 256,
                                                 "pattern": "\\S"}

# -- searching ----------------------------------------------------------------------------------

QUERY = ArgText(
    tool="What to look for, in plain words: a question or keywords (e.g. 'where does Anna "
    "work'). Name people as the memories do: their own words rank first.",
    rest="What to look for, in plain words.",
)
SEARCH_LIMIT = ArgText(
    tool=f"Most results to return ({LIMIT_RANGE}).",
    rest="Most results to return.",
)
SEARCH_SESSION = ArgText(
    tool=_SESSION,
    rest="The current conversation: its recent matching turns come first. Wins over the "
    "X-Session-ID header.",
    cli="Current session: its recent turns rank first.",
)
SINCE = ArgText(tool="Only memories that occurred at or after this ISO 8601 date.",
                cli="Only memories at or after this ISO 8601 date.")
UNTIL = ArgText(tool="Only memories that occurred before this ISO 8601 date.",
                cli="Only memories before this ISO 8601 date.")
FILTERS = ArgText(
    tool=f"Optional narrowing: {_FILTERS}. Other keys are rejected.",
    rest=f"Narrowing: {_FILTERS}. Other keys are refused.",
)
CONTEXT = ArgText(
    tool=f"Also return up to this many neighbouring turns ({CONTEXT_RANGE}) before and after "
    "each result, from the same conversation.",
    rest="Also return up to this many neighbouring turns before and after each hit.",
    cli="Neighbouring turns to show.",
)

MIN_SCORE = ArgText(
    tool="Leave out results scoring below this (0-1). A score says how well the memory itself "
    "matches the query, in the same way for every query: 1 when it contains every term of "
    "the query or means the same; a memory found only because it sits next to a match "
    "scores low. Default 0: keep every result.",
    rest="Leave out hits whose score (0-1, comparable across queries) is below this. "
    "Default 0.",
    cli="Leave out hits scoring below this (0-1).",
)

# -- reading one memory -------------------------------------------------------------------------

GET_MEMORY_ID = ArgText(
    tool="The id of the memory to read in full, as returned by search_memory (a hit's "
    "memory.id) or list_memories.",
    rest="The memory's id.",
)

# -- listing ------------------------------------------------------------------------------------

PAGE_LIMIT = ArgText(tool=f"Page size ({LIMIT_RANGE}).", rest="Page size.")
CURSOR = ArgText(
    tool="next_cursor from the previous page; omit for the first page.",
    rest="next_cursor of the previous page.",
    cli="next_cursor from the previous page.",
)
LIST_SESSION = ArgText(
    tool="Only this conversation's memories.",
    rest="Only this conversation's memories (for 'working', default: X-Session-ID).",
    cli="Only this session.",
)
MEMORY_TYPE = ArgText(
    tool="'episodic' (default): every stored memory. 'working': the recent turns of "
    "session_id, which is then required.",
    rest="'episodic': every stored memory, newest first. 'working': the recent turns of a "
    "session.",
    cli="The session's working memory instead.",
)

# -- deleting and the profile -------------------------------------------------------------------

MEMORY_ID = ArgText(
    tool="The id of the memory to delete, as returned by add_memory, search_memory or "
    "list_memories.",
)
CONFIRM = ArgText(
    tool="Must be true. Only set it when the user has explicitly asked to erase their "
    "memories.",
    rest="Must be true, or nothing is deleted (400).",
)
DELETE_SESSION = ArgText(
    tool="Erase only this conversation's memories instead of all.",
    rest="Erase only this conversation's memories (the profile is kept).",
    cli="Only this session's memories.",
)
INCLUDE_HISTORY = ArgText(
    tool="Also return superseded values, with when they stopped being true.",
    rest="Also return superseded values.",
    cli="Include superseded values.",
)


# -- correcting ---------------------------------------------------------------------------------

UPDATE_MEMORY_ID = ArgText(
    tool="The id of the memory to correct, as returned by add_memory, search_memory or "
    "list_memories. It stays the same.",
    rest="The memory's id (unchanged by the update).",
)
UPDATE_CONTENT = ArgText(
    tool="The corrected text, replacing the whole content (verbatim). Omit to keep it.",
    rest="The new content, replacing the old (kept in the history). Omit to keep it.",
    cli="The corrected text.",
)
UPDATE_METADATA = ArgText(
    tool='A JSON object replacing the memory\'s metadata, e.g. {"topic": "travel"}. Omit to '
    "keep it.",
    rest="A JSON object replacing the memory's metadata. Omit to keep it.",
    cli="JSON object replacing the metadata.",
)
UPDATE_DATA = ArgText(
    tool="A typed memory's new data, checked against its type's schema. Content made from "
    "the old data is made again. Omit to keep it.",
    rest="A typed memory's new data (checked against its type's schema); content rendered "
    "from the old data is rendered again. Omit to keep it.",
    cli="JSON object replacing a typed memory's data.",
)
UPDATE_OCCURRED_AT = ArgText(
    tool="When it really happened, ISO 8601 (no timezone means UTC). Omit to keep it.",
    rest="The corrected time it happened, ISO 8601. Omit to keep it.",
    cli="When it happened, ISO 8601.",
)
SET_FACTS = ArgText(
    tool="Facts about the user as key → value, e.g. {\"diet\": \"vegan\"} or "
    '{"diet": {"value": "vegan", "category": "preference"}}. A key set again replaces its '
    "old value; a key given null is forgotten (its value moves to the history). Keys not "
    "given are kept.",
    rest='Facts to set, key → value or {"value": ..., "category": ...}; a key given null is '
    "forgotten (its current value moves to the history, retired_reason \"forgotten\"). Each "
    "key given supersedes its current value; other keys are kept.",
    cli='Facts as JSON, e.g. {"diet": "vegan"}; null forgets a key.',
)


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def describe_invalid(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line for all of ``model``'s validation errors, naming each field (dotted path)
    and no pydantic URL: the rule REST bodies and MCP tool arguments share."""
    unknown = [_where(e["loc"]) for e in exc.errors() if e["type"] == "extra_forbidden"]
    parts = []
    if unknown:
        allowed = ", ".join(model.model_fields) or "none"
        parts.append(f"unknown field(s) {', '.join(unknown)}"
                     + (f" (allowed: {allowed})" if all("." not in u and "[" not in u
                                                        for u in unknown) else ""))
    for e in exc.errors():
        if e["type"] == "extra_forbidden":
            continue
        if e["type"] == "string_unicode" and not e["loc"]:
            # a key of the object itself that is not valid Unicode (a lone surrogate): no
            # field has that name
            parts.append(f"unknown field {e['input']!a} (it holds a lone surrogate)")
            continue
        if e["type"] == "missing":
            parts.append(f"{_where(e['loc'])} is missing")
        else:
            parts.append(f"{_where(e['loc'])}: {e['msg']}")
    return "; ".join(parts)
