"""Export to Markdown: one readable note per session and a profile page.

``export_notes`` yields ``(relative path, text)`` pairs: ``sessions/<session>.md`` for each
session (``sessions/no-session.md`` for memories without one), oldest memory first, and
``profile.md`` with the current facts and their history. A session note opens with front
matter (session, user, agents, first and last dates, count, title when the memories carry
one); each memory is a section headed by its time (and agent), followed by a marker line
holding its id, time, session and metadata as JSON, then its content verbatim. The marker is
what lets ``memvault import --from markdown`` read the note back with the memories' ids, so
importing an export adds nothing. The profile page is for reading: facts are imported back
from the JSONL export, not from it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from pydantic import JsonValue

from memvault.core.importers.markdown import PROFILE_FORMAT, SESSION_FORMAT, marker_line
from memvault.models import Memory, MemoryFilter, ProfileFact
from memvault.stores.base import EpisodicStore, ProfileStore

__all__ = ["export_notes"]

_PAGE = 1_000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


async def export_notes(episodic: EpisodicStore, profile: ProfileStore, user: str
                       ) -> AsyncIterator[tuple[str, str]]:
    memories: list[Memory] = []
    before: tuple[datetime, str] | None = None
    while True:
        page = await episodic.list(MemoryFilter(user_id=user), limit=_PAGE, before=before)
        memories.extend(page)
        if len(page) < _PAGE:
            break
        before = (page[-1].occurred_at, page[-1].id)
    sessions: dict[str | None, list[Memory]] = {}
    for memory in sorted(memories, key=lambda m: (m.occurred_at, m.created_at, m.id)):
        sessions.setdefault(memory.session_id, []).append(memory)
    for session, group in sessions.items():
        yield f"sessions/{_file_name(session)}", _session_note(user, session, group)
    yield "profile.md", _profile_page(user, await profile.get(user, include_history=True))


def _file_name(session: str | None) -> str:
    if session is None:
        return "no-session.md"
    slug = _UNSAFE.sub("-", session).strip("-.")[:60] or "session"
    digest = hashlib.blake2b(session.encode("utf-8", "surrogatepass"), digest_size=3).hexdigest()
    return f"{slug}-{digest}.md"


def _front(fields: dict[str, JsonValue]) -> list[str]:
    return ["---", *(f"{key}: {json.dumps(value, ensure_ascii=False)}"
                     for key, value in fields.items() if value is not None), "---", ""]


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _session_note(user: str, session: str | None, memories: Sequence[Memory]) -> str:
    titles = {m.metadata.get("title") for m in memories}
    title = titles.pop() if len(titles) == 1 else None
    agents: list[JsonValue] = [*sorted({m.agent_id for m in memories if m.agent_id})]
    lines = _front({
        "format": SESSION_FORMAT, "session_id": session, "user_id": user,
        "agents": agents or None, "title": title if isinstance(title, str) else None,
        "first": memories[0].occurred_at.isoformat(),
        "last": memories[-1].occurred_at.isoformat(), "memories": len(memories),
    })
    heading = title if isinstance(title, str) and title else (
        f"Session {session}" if session else "Memories without a session")
    lines += [f"# {heading}", ""]
    for memory in memories:
        lines.append(f"## {_when(memory.occurred_at)}"
                     + (f" · {memory.agent_id}" if memory.agent_id else ""))
        lines.append(marker_line({
            "id": memory.id, "occurred_at": memory.occurred_at.isoformat(),
            "session_id": memory.session_id, "agent_id": memory.agent_id,
            "source": memory.source, "metadata": memory.metadata,
        }))
        lines += ["", memory.content, ""]
    return "\n".join(lines)


def _cell(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("|", "\\|").replace("\n", " ")


def _profile_page(user: str, facts: Sequence[ProfileFact]) -> str:
    current = [f for f in facts if f.valid_to is None]
    history = sorted((f for f in facts if f.valid_to is not None),
                     key=lambda f: (f.key, f.valid_from))
    lines = _front({"format": PROFILE_FORMAT, "user_id": user, "facts": len(current)})
    lines += [f"# Profile of {user}", "", "## Current facts", ""]
    if current:
        lines += ["| key | value | category | since |", "| --- | --- | --- | --- |"]
        lines += [f"| {_cell(f.key)} | {_cell(f.value)} | {_cell(f.category)} | "
                  f"{_when(f.valid_from)} |" for f in sorted(current, key=lambda f: f.key)]
    else:
        lines.append("No facts yet.")
    lines += ["", "## History", ""]
    if history:
        lines += ["| key | value | from | to | why it ended |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {_cell(f.key)} | {_cell(f.value)} | {_when(f.valid_from)} | "
                  f"{_when(f.valid_to) if f.valid_to else ''} | "
                  f"{_cell(f.retired_reason or 'superseded')} |" for f in history]
    else:
        lines.append("No earlier values.")
    return "\n".join(lines) + "\n"
