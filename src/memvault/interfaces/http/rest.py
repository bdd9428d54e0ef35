"""The REST API: memvault's operations over plain JSON, for callers that don't speak MCP.

:func:`rest_routes` gives Starlette routes that :mod:`memvault.interfaces.http.app` mounts at
``/v1`` next to the MCP endpoint, whatever the transport. They act on the same
:class:`Runtime` as the MCP tools, with the same semantics and argument names:

* the user, agent and session come from the ``X-User-ID``, ``X-Agent-ID`` and
  ``X-Session-ID`` headers (:func:`resolve_identity`); a ``session_id`` in the request wins
  over the header, as a tool's argument does;
* the server's bearer credential, when it asks for one, guards every route (``GET /health``
  excepted); the credential binds the identity and its scope limits the routes
  (:func:`_authorized`, for every route of the table);
* bodies are JSON objects validated against the request models of
  :mod:`memvault.interfaces.http.operations` (unknown fields are refused, naming them);
  answers are the core models as ``model_dump(mode="json")``;
* ``POST /v1/memories`` takes an ``Idempotency-Key`` header (a batch: an
  ``idempotency_key`` per item): a retry with the same key and body stores nothing and
  answers 200 with the memory first stored and ``Idempotent-Replayed: true``;
* errors are ``{"error": {"type": ..., "message": ...}}``: 400 invalid input or malformed
  JSON, 403 what the request's credential does not allow (another user's ``X-User-ID``, a
  write with a read key), 404 unknown id or route, 405 wrong method, 413 body too large,
  415 body not JSON, 422 an idempotency key reused with another body, 500 configuration
  error (also when the stores will not open because of one, e.g. another embedder's
  vectors), 503 store unavailable or not open yet.

The routes are declared once, in :data:`~memvault.interfaces.http.operations.OPERATIONS`;
the OpenAPI document served at ``GET /v1/openapi.json`` is built from that table
(:mod:`memvault.interfaces.http.openapi`).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Receive, Scope, Send

from memvault.core.audit import acting_as
from memvault.core.exchange import ImportReport
from memvault.core.memvault import Memvault
from memvault.core.typed import TypeRegistry
from memvault.core.validate import check_identifier
from memvault.errors import (
    ConfigError,
    EncryptionError,
    Forbidden,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    StoreUnavailable,
)
from memvault.interfaces.http.openapi import openapi_document
from memvault.interfaces.http.operations import (
    MAX_IMPORT_BYTES,
    NDJSON,
    OPERATIONS,
    AddManyRequest,
    AddManyResponse,
    AddMemoryRequest,
    DeleteAllRequest,
    DeleteResponse,
    ErrorType,
    ForgetResponse,
    ImportQuery,
    ListQuery,
    MemoryRecord,
    NoQuery,
    Operation,
    ProfileQuery,
    SearchRequest,
    SetProfileRequest,
    SetProfileResponse,
    UpdateMemoryRequest,
)
from memvault.interfaces.identity import (
    Identity,
    principal_of,
    require_scope,
    resolve_identity,
)
from memvault.interfaces.runtime import NotOpen, Runtime
from memvault.interfaces.schemas import describe_invalid
from memvault.models import MemoryInput

__all__ = ["IDEMPOTENCY_HEADER", "MAX_BODY_BYTES", "rest_mount", "rest_routes"]

log = logging.getLogger("memvault.rest")

MAX_BODY_BYTES = 32 * 1024 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"

_IMPORT_NAMES = {"chatgpt": "conversations.json", "claude": "conversations.json",
                 "mem0": "memories.json", "markdown": "note.md", "csv": "body.csv",
                 "jsonl": "body.jsonl"}

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]


# -- errors ------------------------------------------------------------------------------------

class _HttpError(Exception):
    def __init__(self, status: int, kind: ErrorType, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message
        self.headers = dict(headers or {})


def _error(status: int, kind: ErrorType, message: str,
           headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status,
                        headers=dict(headers or {}))


def _invalid(message: str) -> NoReturn:
    raise _HttpError(400, "InvalidInput", message)


def _guard(handler: Handler) -> Handler:
    """Map what a handler raises to a status and an error body."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except _HttpError as exc:
            return _error(exc.status, exc.kind, exc.message, exc.headers)
        except NotFound as exc:
            return _error(404, "NotFound", str(exc))
        except InvalidInput as exc:
            return _error(400, "InvalidInput", str(exc))
        except Forbidden as exc:
            return _error(403, "Forbidden", str(exc))
        except StoreUnavailable as exc:
            return _error(503, "StoreUnavailable", str(exc))
        except EncryptionError as exc:  # a stored value or a store the keys do not open
            return _error(503, "StoreUnavailable", str(exc), {"Retry-After": "1"})
        except ConfigError as exc:
            return _error(500, "ConfigError", str(exc))
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return _error(500, "InternalError", "internal error; the server log has the details")

    return guarded


class _Fallback:
    """The last route: 405 for a known path with another method, else 404, as JSON."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        allowed: set[str] = set()
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.PARTIAL and isinstance(route, Route):
                allowed |= route.methods or set()
        if allowed:
            response = _error(405, "MethodNotAllowed",
                              f"{scope['method']} is not allowed here; use "
                              f"{', '.join(sorted(allowed))}",
                              {"Allow": ", ".join(sorted(allowed))})
        else:
            path = scope["path"].encode("unicode_escape").decode("ascii")  # stays one line
            response = _error(404, "NotFound", f"no route {scope['method']} {path}; "
                              "GET /v1/openapi.json lists the routes")
        await response(scope, receive, send)


# -- parsing -----------------------------------------------------------------------------------



def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


async def _read_body(request: Request, limit: int | None = None) -> bytes:
    limit = MAX_BODY_BYTES if limit is None else limit
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _HttpError(413, "PayloadTooLarge", f"the body is over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _HttpError(413, "PayloadTooLarge", f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _body(request: Request, model: type[M]) -> M:
    given = request.headers.get("content-type", "")
    media = given.split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/")
                                            and media.endswith("+json")):
        raise _HttpError(415, "UnsupportedMediaType",
                         f"send the body as application/json, not {given or 'no content type'}")
    raw = await _read_body(request)
    if not raw.strip():
        _invalid("the request body is empty: send a JSON object")
    try:
        data = json.loads(raw, parse_constant=_no_constants, parse_float=_finite)
    except ValueError as exc:
        _invalid(f"the request body is not valid JSON: {exc}")
    except RecursionError:
        _invalid("the request body nests too deep: metadata and profile values may nest at "
                 "most 64 levels")
    if not isinstance(data, dict):
        _invalid(f"the request body must be a JSON object, not {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        _invalid(describe_invalid(exc, model))


def _query(request: Request, model: type[M]) -> M:
    params = request.query_params
    repeated = sorted({k for k in params if len(params.getlist(k)) > 1})
    if repeated:
        _invalid(f"query parameter(s) given more than once: {', '.join(repeated)}")
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        message = describe_invalid(exc, model).replace("unknown field", "unknown query parameter")
        _invalid(message)


def _idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header: a token or an sf-string (in double quotes), 1-256
    printable ASCII characters; ``None`` when absent."""
    given = request.headers.getlist(IDEMPOTENCY_HEADER)
    if not given:
        return None
    if len(given) > 1:
        _invalid(f"the {IDEMPOTENCY_HEADER} header is given more than once")
    value = given[0].strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value.isascii():
        _invalid(f"the {IDEMPOTENCY_HEADER} header is not ASCII")
    return check_identifier(value, f"the {IDEMPOTENCY_HEADER} header")


def _json(model: BaseModel, status: int = 200, headers: Mapping[str, str] | None = None
          ) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status,
                        headers=dict(headers or {}))


# -- handlers ----------------------------------------------------------------------------------

class _Handlers:
    """One method per operation, named as its operationId."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def _identity(self, request: Request, session_id: str | None = None) -> Identity:
        return resolve_identity(self.runtime.config, request.headers, session_id,
                                principal_of(request))

    async def _memvault(self) -> Memvault:
        try:
            return await self.runtime.require()
        except NotOpen as exc:
            if exc.configuration:  # e.g. another embedder's vectors: retrying cannot help
                raise _HttpError(500, "ConfigError", str(exc)) from None
            raise _HttpError(503, "StoreUnavailable", str(exc),
                             {"Retry-After": "1"}) from None

    async def add_memory(self, request: Request) -> Response:
        _query(request, NoQuery)
        key = _idempotency_key(request)
        body = await _body(request, AddMemoryRequest)
        who = self._identity(request, body.session_id)
        mv = await self._memvault()
        item = MemoryInput(
            content=body.content, agent_id=who.agent_id, session_id=who.session_id,
            metadata=body.metadata, occurred_at=body.occurred_at, profile=body.profile,
            idempotency_key=key, type=body.type, data=body.data,
        )
        try:
            [outcome] = await mv.add_outcomes([item], user_id=who.user_id)
        except IdempotencyConflict:
            raise _HttpError(422, "InvalidInput", (
                f"the {IDEMPOTENCY_HEADER} {key!r} was already used by this user for a "
                "different request: send the same body to retry it, or use a new key")
            ) from None
        memory = outcome.memory
        headers = {"Location": f"{request.scope.get('root_path', '')}/memories/{memory.id}"}
        if outcome.replayed:
            return _json(memory, 200, {**headers, "Idempotent-Replayed": "true"})
        return _json(memory, 201, headers)

    async def add_memories(self, request: Request) -> Response:
        _query(request, NoQuery)
        if IDEMPOTENCY_HEADER.lower() in request.headers:
            _invalid(f"a batch takes no {IDEMPOTENCY_HEADER} header: give each item its "
                     "idempotency_key")
        body = await _body(request, AddManyRequest)
        who = self._identity(request)
        items: list[dict[str, Any]] = []
        for index, item in enumerate(body.items):
            try:
                session = self._identity(request, item.session_id).session_id
            except InvalidInput as exc:
                raise InvalidInput(f"item {index}: {exc}") from None
            items.append({
                "content": item.content, "metadata": item.metadata,
                "occurred_at": item.occurred_at, "session_id": session,
                "agent_id": who.agent_id, "profile": item.profile,
                "idempotency_key": item.idempotency_key, "type": item.type, "data": item.data,
            })
        mv = await self._memvault()
        try:
            memories = await mv.add_many(items, user_id=who.user_id)
        except IdempotencyConflict as exc:
            raise _HttpError(422, "InvalidInput", str(exc)) from None
        return _json(AddManyResponse(items=memories), 201)

    async def list_memories(self, request: Request) -> Response:
        query = _query(request, ListQuery)
        who = self._identity(request, query.session_id)
        mv = await self._memvault()
        # As list_memories does: X-Session-ID names the current session, which working memory
        # is about; it does not narrow an episodic listing, only the parameter does.
        session = who.session_id if query.memory_type == "working" else query.session_id
        page = await mv.list(user_id=who.user_id, session_id=session,
                             memory_type=query.memory_type, limit=query.limit,
                             cursor=query.cursor, type=query.type)
        return _json(page)

    async def get_memory(self, request: Request) -> Response:
        _query(request, NoQuery)
        who = self._identity(request)
        mv = await self._memvault()
        memory_id: str = request.path_params["memory_id"]
        memory = await mv.get(memory_id, user_id=who.user_id)
        history = await mv.history(memory_id, user_id=who.user_id)
        return _json(MemoryRecord(**memory.model_dump(), history=history))

    async def update_memory(self, request: Request) -> Response:
        _query(request, NoQuery)
        body = await _body(request, UpdateMemoryRequest)
        who = self._identity(request)
        mv = await self._memvault()
        memory_id: str = request.path_params["memory_id"]
        memory = await mv.update(memory_id, user_id=who.user_id, content=body.content,
                                 metadata=body.metadata, occurred_at=body.occurred_at,
                                 data=body.data)
        history = await mv.history(memory_id, user_id=who.user_id)
        return _json(MemoryRecord(**memory.model_dump(), history=history))

    async def delete_memory(self, request: Request) -> Response:
        _query(request, NoQuery)
        who = self._identity(request)
        mv = await self._memvault()
        memory_id: str = request.path_params["memory_id"]
        await mv.delete(memory_id, user_id=who.user_id)
        return _json(DeleteResponse(deleted=memory_id))

    async def search_memories(self, request: Request) -> Response:
        _query(request, NoQuery)
        body = await _body(request, SearchRequest)
        who = self._identity(request, body.session_id)
        mv = await self._memvault()
        result = await mv.search(
            body.query, user_id=who.user_id, session_id=who.session_id, limit=body.limit,
            since=body.since, until=body.until, filters=body.filters, context=body.context,
            wait_for_model=0, min_score=body.min_score, type=body.type,
        )
        return _json(result)

    async def delete_all_memories(self, request: Request) -> Response:
        _query(request, NoQuery)
        body = await _body(request, DeleteAllRequest)
        if body.confirm is not True:
            _invalid('refused: send {"confirm": true} to delete memories permanently')
        who = self._identity(request)
        mv = await self._memvault()
        return _json(await mv.delete_all(user_id=who.user_id, session_id=body.session_id))

    async def get_profile(self, request: Request) -> Response:
        query = _query(request, ProfileQuery)
        who = self._identity(request)
        mv = await self._memvault()
        return _json(await mv.get_profile(user_id=who.user_id,
                                          include_history=query.include_history))

    async def set_profile(self, request: Request) -> Response:
        _query(request, NoQuery)
        body = await _body(request, SetProfileRequest)
        who = self._identity(request)
        mv = await self._memvault()
        facts = await mv.set_profile(body.facts, user_id=who.user_id, agent_id=who.agent_id)
        return _json(SetProfileResponse(facts=facts))

    async def forget_profile_fact(self, request: Request) -> Response:
        _query(request, NoQuery)
        who = self._identity(request)
        mv = await self._memvault()
        key: str = request.path_params["key"]
        forgotten = await mv.forget_profile(key, user_id=who.user_id)
        if forgotten is None:
            raise NotFound(f"profile key {key!r} has no current value")
        return _json(ForgetResponse(forgotten=forgotten))

    async def export(self, request: Request) -> Response:
        _query(request, NoQuery)
        who = self._identity(request)
        mv = await self._memvault()
        lines = mv.export(user_id=who.user_id)
        # Read the header and the first record before answering, so that a store failing at
        # once is reported with a status instead of a cut stream.
        head: list[str] = []
        async for line in lines:
            head.append(line)
            if len(head) == 2:
                break

        async def body() -> AsyncIterator[bytes]:
            try:
                for line in head:
                    yield (line + "\n").encode()
                async for line in lines:
                    yield (line + "\n").encode()
            except Exception:
                log.exception("export for user %s failed mid-stream", who.user_id)
                raise
            finally:
                close = getattr(lines, "aclose", None)
                if close is not None:
                    await close()

        return StreamingResponse(body(), media_type=NDJSON, headers={
            "Content-Disposition": 'attachment; filename="memvault-export.jsonl"',
        })

    async def import_memories(self, request: Request) -> Response:
        query = _query(request, ImportQuery)
        who = self._identity(request)
        data = await _read_body(request, MAX_IMPORT_BYTES)
        mv = await self._memvault()
        if not data.strip():
            return _json(ImportReport())  # an empty file: nothing to import
        name = query.name or _IMPORT_NAMES.get(query.format, "body")
        try:
            report = await mv.import_from(data, format=query.format, name=name,
                                          user_id=who.user_id, mapping=query.map,
                                          skip_invalid=query.skip_invalid)
        except IdempotencyConflict as exc:
            raise _HttpError(422, "InvalidInput", str(exc)) from None
        except InvalidInput as exc:  # one bad record a line: one line here
            _invalid("; ".join(str(exc).splitlines()))
        return _json(report)

    async def list_types(self, request: Request) -> Response:
        _query(request, NoQuery)
        return JSONResponse({"types": TypeRegistry(self.runtime.config.types).describe()})

    async def openapi(self, request: Request) -> Response:
        _query(request, NoQuery)
        return JSONResponse(openapi_document())


def _authorized(runtime: Runtime, op: Operation, handler: Handler) -> Handler:
    """Refuse before ``handler`` what the request's credential does not allow (403): an
    identity it may not act as, on every route, and a route needing more than its scope
    (:attr:`Operation.scope`); inside, the core records writes as the credential's."""

    @functools.wraps(handler)
    async def authorized(request: Request) -> Response:
        who = resolve_identity(runtime.config, request.headers, None, principal_of(request))
        if op.scope != "read":
            require_scope(who, op.scope, op.name)
        with acting_as(who.subject, who.agent_id):
            return await handler(request)

    return authorized


def rest_routes(runtime: Runtime) -> list[BaseRoute]:
    """The REST routes over ``runtime``, relative to where they are mounted (``/v1``)."""
    handlers = _Handlers(runtime)
    routes: list[BaseRoute] = []
    for op in OPERATIONS:
        handler: Handler = _authorized(runtime, op, getattr(handlers, op.name))
        routes.append(Route(op.path, _guard(handler), methods=[op.method], name=op.name))
    fallback = Route("/{path:path}", _Fallback(list(routes)), include_in_schema=False)
    routes.append(_across_lines(fallback))
    return routes


R = TypeVar("R", Route, Mount)


def _across_lines(route: R) -> R:
    """``route`` matching paths that hold a line break too (percent-encoded ``%0A``), which
    Starlette's patterns stop at: such a request is answered by the REST API, as JSON."""
    route.path_regex = re.compile(route.path_regex.pattern, re.DOTALL)
    return route


def rest_mount(runtime: Runtime) -> Mount:
    """:func:`rest_routes` mounted at ``/v1``."""
    return _across_lines(Mount("/v1", routes=rest_routes(runtime)))
