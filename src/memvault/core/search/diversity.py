"""Session diversity: the answer to "which games has John played?" is spread over sessions.

The timeline (:mod:`memvault.core.search.timeline`) makes the turns around a strong match
strong too, which is right for a question answered in one exchange and crowds out the other
sessions for a question whose answers are spread over many. This stage re-ranks greedily: a
memory's score is multiplied by :data:`SESSION_DECAY` for every memory of its session already
chosen, so that a session's second and third turns must out-score the best turns of other
sessions by a margin to come before them. Memories without a session are their own session.
"""

from __future__ import annotations

from collections.abc import Sequence

from memvault.models import Memory

__all__ = ["SESSION_DECAY", "diversify"]

#: What a memory's score is multiplied by for each memory of its session ranked before it.
SESSION_DECAY = 0.8


def diversify(ranked: Sequence[tuple[Memory, float]], limit: int,
              decay: float = SESSION_DECAY) -> tuple[list[tuple[Memory, float]],
                                                    dict[str, float]]:
    """The first ``limit`` of ``ranked`` (best first) re-ranked as the module says, with
    their new scores, and what each memory lost (by memory id; those that lost nothing are
    left out)."""
    chosen: list[tuple[Memory, float]] = []
    lost: dict[str, float] = {}
    taken: dict[str, int] = {}
    rest = list(ranked)
    while rest and len(chosen) < limit:
        best_index, best_score = 0, float("-inf")
        for index, (memory, score) in enumerate(rest):
            session = memory.session_id or memory.id
            effective = score * decay ** taken.get(session, 0) if score > 0 else score
            if effective > best_score:
                best_index, best_score = index, effective
            if score <= best_score:  # ranked is best first: nothing later can win
                break
        memory, score = rest.pop(best_index)
        session = memory.session_id or memory.id
        taken[session] = taken.get(session, 0) + 1
        if best_score != score:
            lost[memory.id] = score - best_score
        chosen.append((memory, best_score))
    return chosen, lost
