"""Session prior: a memory from a session that answers the question well is worth more.

A conversation's sessions are about a few things each; the evidence for a question clusters
in the sessions where its best matches are. Each candidate gains :data:`SESSION_SHARE` of the
best score among the candidates of its session (its own included), so that a middling match
in a strong session passes an equal match in a session that holds nothing else on the topic.
Memories without a session are their own session, which leaves their order unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from memvault.models import Memory

__all__ = ["SESSION_SHARE", "session_prior"]

#: The share of its session's best candidate score a memory gains.
SESSION_SHARE = 0.2


def session_prior(ranked: Sequence[tuple[Memory, float]]) -> dict[str, float]:
    """What each memory of ``ranked`` gains, by memory id (only memories in a session)."""
    best: dict[str, float] = {}
    for memory, score in ranked:
        if memory.session_id is not None:
            best[memory.session_id] = max(best.get(memory.session_id, score), score)
    return {
        memory.id: SESSION_SHARE * best[memory.session_id]
        for memory, _ in ranked
        if memory.session_id is not None and best[memory.session_id] > 0
    }
