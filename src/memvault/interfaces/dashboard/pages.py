"""The dashboard's pages (``GET``) and actions (``POST``), each over the same core
operations as the MCP tools and REST routes, for the viewer only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from memvault.errors import InvalidInput, NotFound
from memvault.interfaces.dashboard import views
from memvault.interfaces.dashboard.site import Site, Visit
from memvault.models import Memory

__all__ = ["Pages"]

_PAGE = 50
_SEARCH_LIMIT = 20
_GRAPH_MEMORIES = 500
_FILTERS = ("agent_id", "session_id", "entity", "source", "type")
_MAX_IMPORT_BYTES = 64 * 1024 * 1024


def _filters(visit: Visit) -> dict[str, Any]:
    params = visit.request.query_params
    chosen: dict[str, Any] = {k: params[k].strip() for k in _FILTERS if params.get(k, "").strip()}
    key, value = params.get("meta_key", "").strip(), params.get("meta_value", "").strip()
    if key:
        chosen["metadata"] = {key: value}
    return chosen


class Pages:
    def __init__(self, site: Site) -> None:
        self.site = site

    # -- pages -------------------------------------------------------------------------------

    async def timeline(self, visit: Visit) -> Response:
        filters = _filters(visit)
        params = visit.request.query_params
        cursor = params.get("cursor") or None
        dates = {k: params.get(k, "").strip() for k in ("since", "until")}
        since, until = views.day_bounds(dates["since"], dates["until"])
        page = await visit.memvault.list(user_id=visit.user_id, limit=_PAGE, cursor=cursor,
                                         filters=filters, since=since, until=until)
        waiting: set[str] = set()
        if visit.memvault.embedding.embedder is not None:  # without one, none will come
            waiting = {memory_id for memory_id, _ in
                       await visit.memvault.episodic.missing_embeddings(limit=1000)}
        return self.site.render(
            visit.request, "timeline.html", user_id=visit.user_id, nav="timeline",
            groups=views.group_by_session(page.items), next_cursor=page.next_cursor,
            filters=filters, dates=dates, waiting=waiting, csrf_token=visit.csrf,
            total=await visit.memvault.count(user_id=visit.user_id),
            types=visit.memvault.types.names,
        )

    async def search(self, visit: Visit) -> Response:
        query = visit.request.query_params.get("q", "").strip()
        result = None
        if query:
            result = await visit.memvault.search(query, user_id=visit.user_id,
                                                 limit=_SEARCH_LIMIT, filters=_filters(visit))
        hits = [] if result is None else [
            (hit, views.highlight(hit.memory.content, views.matched_terms(hit)))
            for hit in result.hits
        ]
        return self.site.render(visit.request, "search.html", user_id=visit.user_id,
                                nav="search", query=query, result=result, hits=hits)

    async def memory(self, visit: Visit) -> Response:
        memory_id = visit.request.path_params["memory_id"]
        memory = await visit.memvault.get(memory_id, user_id=visit.user_id)
        around = await visit.memvault.episodic.neighbors(visit.user_id, memory.id,
                                                         before=3, after=3)
        profile = await visit.memvault.get_profile(user_id=visit.user_id, include_history=True)
        facts = [f for f in [*profile.facts, *profile.history] if memory.id in f.source_memory_ids]
        versions = await visit.memvault.history(memory.id, user_id=visit.user_id)
        earlier = [m for m in around if (m.occurred_at, m.id) < (memory.occurred_at, memory.id)]
        later = [m for m in around if m not in earlier]
        return self.site.render(
            visit.request, "memory.html", user_id=visit.user_id, nav="timeline",
            memory=memory, earlier=earlier, later=later, facts=facts,
            versions=list(reversed(versions)),
            metadata=json.dumps(memory.metadata, indent=2, ensure_ascii=False),
            data=json.dumps(memory.data, indent=2, ensure_ascii=False),
        )

    async def profile(self, visit: Visit) -> Response:
        profile = await visit.memvault.get_profile(user_id=visit.user_id, include_history=True)
        return self.site.render(
            visit.request, "profile.html", user_id=visit.user_id, nav="profile",
            categories=views.facts_by_category(profile.facts),
            history=views.history_by_key(profile.facts, profile.history),
        )

    async def graph(self, visit: Visit) -> Response:
        return self.site.render(visit.request, "graph.html", user_id=visit.user_id,
                                nav="graph", filters=_filters(visit))

    async def graph_data(self, visit: Visit) -> Response:
        filters = _filters(visit)
        memories: list[Memory] = []
        cursor = None
        while len(memories) < _GRAPH_MEMORIES:
            page = await visit.memvault.list(user_id=visit.user_id, limit=100, cursor=cursor,
                                             filters=filters)
            memories += page.items
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        graph = views.entity_graph(memories, focus=filters.get("entity"))
        return JSONResponse({**graph, "memories": len(memories)})

    async def housekeeping(self, visit: Visit) -> Response:
        report = await visit.memvault.doctor()
        queue = report.extraction.queue if report.extraction is not None else None
        failures = [] if queue is None else [  # only the viewer's: others' are not theirs
            f for f in queue.failures if f.user_id == visit.user_id]
        users: list[str] = []
        if visit.admin:  # the users switch user offers
            users = sorted(set(await visit.memvault.episodic.user_ids())
                           | set(await visit.memvault.profile.user_ids()))
        return self.site.render(visit.request, "housekeeping.html", user_id=visit.user_id,
                                nav="housekeeping", report=report, failures=failures,
                                admin=visit.admin, users=users,
                                count=await visit.memvault.count(user_id=visit.user_id))

    async def export(self, visit: Visit) -> Response:
        lines = visit.memvault.export(user_id=visit.user_id)

        async def body() -> AsyncIterator[bytes]:
            async for line in lines:
                yield (line + "\n").encode()

        name = f"memvault-{visit.user_id}.jsonl".encode("ascii", "replace").decode()
        return StreamingResponse(body(), media_type="application/x-ndjson", headers={
            "Content-Disposition": f'attachment; filename="{name}"'})

    # -- actions -----------------------------------------------------------------------------

    async def delete_memory(self, visit: Visit) -> Response:
        memory_id = visit.request.path_params["memory_id"]
        await visit.memvault.delete(memory_id, user_id=visit.user_id)
        return RedirectResponse("/ui/?deleted=1", status_code=303)

    async def edit_memory(self, visit: Visit) -> Response:
        memory_id = visit.request.path_params["memory_id"]
        content = visit.field("content")
        if not content:
            raise InvalidInput("content: a memory cannot be empty; delete it instead")
        await visit.memvault.update(memory_id, user_id=visit.user_id, content=content)
        return RedirectResponse(f"/ui/memories/{memory_id}?edited=1", status_code=303)

    async def forget_fact(self, visit: Visit) -> Response:
        key = visit.field("key")
        if await visit.memvault.forget_profile(key, user_id=visit.user_id) is None:
            raise NotFound(f"key: the profile has no current value for {key!r}")
        return RedirectResponse("/ui/profile?forgotten=1", status_code=303)

    async def set_fact(self, visit: Visit) -> Response:
        key = visit.field("key")
        if not key:
            raise InvalidInput("key: give the fact's name, e.g. diet")
        value = views.parse_fact_value(visit.field("value"))
        category = visit.field("category") or "general"
        await visit.memvault.set_profile({key: {"value": value, "category": category}},
                                         user_id=visit.user_id)
        return RedirectResponse("/ui/profile", status_code=303)

    async def import_file(self, visit: Visit) -> Response:
        upload = visit.form.get("file") if visit.form is not None else None
        if not isinstance(upload, UploadFile):
            raise InvalidInput("file: choose a memvault export (JSONL) to import")
        data = await upload.read(_MAX_IMPORT_BYTES + 1)
        if len(data) > _MAX_IMPORT_BYTES:
            raise InvalidInput(f"file: larger than {_MAX_IMPORT_BYTES // (1024 * 1024)} MiB; "
                               "use `memvault import` for large files")
        report = await visit.memvault.import_lines(data.splitlines(), user_id=visit.user_id)
        wants_json = "application/json" in visit.request.headers.get("accept", "")
        if wants_json:
            return JSONResponse(report.model_dump(mode="json"))
        return self.site.render(visit.request, "imported.html", user_id=visit.user_id,
                                nav="housekeeping", report=report)

    async def delete_all(self, visit: Visit) -> Response:
        if visit.field("confirm") != visit.user_id:
            raise InvalidInput(f"confirm: type {visit.user_id!r} to delete all of its memories")
        await visit.memvault.delete_all(user_id=visit.user_id)
        return RedirectResponse("/ui/?deleted=all", status_code=303)
