"""What the example agents share: opening the memory, remembering, recalling, replying.

Each example runs a scripted conversation offline (no LLM: the agent's replies are written
from what it recalled). With an OpenAI-compatible server configured (``OPENAI_BASE_URL``,
``OPENAI_API_KEY``, ``OPENAI_MODEL``), the replies come from that model instead, given the
recalled memories and profile. Memory is the embedded SQLite default (a temporary file unless
``--database`` is given), or the server stores named by ``--episodic`` and ``--profile``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from memvault import SyncMemvault
from memvault.config import Config


def options(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database", help="SQLite file (default: a temporary one)")
    parser.add_argument("--episodic", help="episodic store URL (falkordb://..., neo4j://...)")
    parser.add_argument("--profile", help="profile store URL (postgresql://...)")
    parser.add_argument("--embedder", default="auto", help="auto, local, none, ...")
    return parser.parse_args(argv)


def open_memory(args: argparse.Namespace) -> SyncMemvault:
    database = args.database or str(Path(tempfile.mkdtemp()) / "memory.db")
    flat: dict[str, Any] = {"database": database, "embedder": args.embedder}
    if args.episodic:
        flat["episodic_url"] = args.episodic
        flat["working_url"] = "memory://"
    if args.profile:
        flat["profile_url"] = args.profile
    return SyncMemvault(Config.from_flat(flat))


class Agent:
    """One agent talking with one person in one session, on a shared memory."""

    def __init__(self, memory: SyncMemvault, name: str, user: str, session: str) -> None:
        self.memory, self.name, self.user, self.session = memory, name, user, session
        print(f"\n== {name} (session {session}, with {user})")

    def hear(self, text: str, profile: Mapping[str, Any] | None = None) -> None:
        """The person says ``text``; lasting facts in it go to the profile."""
        self.memory.add(f"user: {text}", user_id=self.user, agent_id=self.name,
                        session_id=self.session, profile=profile)
        print(f"  {self.user}: {text}")
        for key, value in (profile or {}).items():
            print(f"    remembered {key} = {value}")

    def recall(self, question: str, limit: int = 3) -> list[str]:
        """What memory holds about ``question``, from every session and agent."""
        self.memory.wait_for_vectors(timeout=30)
        hits = self.memory.search(question, user_id=self.user, limit=limit).hits
        found = [hit.memory.content.removeprefix("user: ") for hit in hits]
        print(f"    recalled for {question!r}:")
        for hit in hits:
            print(f"      - {hit.memory.content.removeprefix('user: ')}"
                  f"  [{hit.memory.agent_id}, {hit.memory.session_id}]")
        return found

    def profile(self, show: bool = True) -> dict[str, Any]:
        facts = {f.key: f.value for f in self.memory.get_profile(user_id=self.user).facts}
        if show:
            print(f"    profile: {facts}")
        return facts

    def reply(self, question: str, scripted: str, context: Sequence[str]) -> str:
        """The agent's answer: ``scripted`` offline, else the configured LLM's."""
        answer = _llm(self.name, question, context, self.profile(show=False)) or scripted
        self.memory.add(f"assistant: {answer}", user_id=self.user, agent_id=self.name,
                        session_id=self.session)
        print(f"  {self.name}: {answer}")
        return answer


def _llm(name: str, question: str, context: Sequence[str], profile: Mapping[str, Any]
         ) -> str | None:
    base = os.environ.get("OPENAI_BASE_URL")
    if not base:
        return None
    prompt = (f"You are {name}. What you remember: {list(context)}. Profile: {dict(profile)}."
              f" Answer briefly: {question}")
    response = httpx.post(
        base.rstrip("/") + "/chat/completions", timeout=60,
        headers={"Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', '')}"},
        json={"model": os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
              "messages": [{"role": "user", "content": prompt}]},
    )
    response.raise_for_status()
    text: str = response.json()["choices"][0]["message"]["content"]
    return text.strip()
