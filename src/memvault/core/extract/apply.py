"""Extracted facts into the profile, by the same timeline as stated facts
(:mod:`memvault.stores.timeline`), with the source memory's id and ``occurred_at``.

Rules: a fact is kept only when its confidence is at least :data:`MIN_CONFIDENCE`, its span
is words of the memory (the model did not make it up), its key and value pass the checks of
a stated fact, and the user's key limit leaves room for it. A stated fact of the key made at
or after the memory's time wins: the extracted one is not written (an extracted fact never
displaces a stated one unless its text is newer). A retraction closes the value it names (the
current one when it names none) into the history. Nothing here deletes a memory or a fact.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from memvault.core.extract.schema import ExtractedFact
from memvault.core.ids import derived_id
from memvault.core.validate import check_fact_value, check_profile_key
from memvault.errors import InvalidInput
from memvault.models import Memory, ProfileFact
from memvault.stores.base import ProfileStore
from memvault.stores.timeline import RETRACTED

__all__ = ["MIN_CONFIDENCE", "apply_facts"]

log = logging.getLogger("memvault.extract")

MIN_CONFIDENCE = 0.5


async def apply_facts(
    profile: ProfileStore, memory: Memory, extracted: Sequence[ExtractedFact], *,
    max_value_bytes: int, max_keys: int,
) -> list[ProfileFact]:
    """Write what of ``extracted`` the rules keep; returns the facts written."""
    user, at = memory.user_id, memory.occurred_at
    facts = await profile.get(user, include_history=True)
    current = {f.key: f for f in facts if f.valid_to is None}
    stated_at: dict[str, list[ProfileFact]] = {}
    for fact in facts:
        if fact.origin == "stated" and fact.retired_reason is None:
            stated_at.setdefault(fact.key, []).append(fact)
    keys = set(current)
    written: list[ProfileFact] = []
    for item in extracted:
        built = _build(item, memory, current, max_value_bytes)
        if built is None:
            continue
        if any(f.valid_from >= at for f in stated_at.get(built.key, [])):
            log.info("extracted %s of memory %s left out: stated later", built.key, memory.id)
            continue
        if built.key not in keys and built.retired_reason is None:
            if len(keys) + 1 > max_keys:
                log.info("extracted %s left out: the user's key limit", built.key)
                continue
            keys.add(built.key)
        written.append(built)
    if written:
        await profile.set_facts(written)
    return written


def _build(item: ExtractedFact, memory: Memory, current: dict[str, ProfileFact],
           max_value_bytes: int) -> ProfileFact | None:
    if item.confidence < MIN_CONFIDENCE or not _states(memory.content, item.span):
        return None
    try:
        key = check_profile_key(item.key.strip().lower().replace(" ", "_"), "key")
        raw: object = item.value
        if item.retracts and raw is None:
            if key not in current:
                return None
            raw = current[key].value
        value = check_fact_value(raw, "value", max_value_bytes)
    except InvalidInput as exc:
        log.info("an extracted fact of memory %s left out: %s", memory.id, exc)
        return None
    return ProfileFact(
        id=derived_id(memory.id, f"extract:{key}"), user_id=memory.user_id, key=key,
        value=value, category=item.category, source_memory_ids=[memory.id],
        agent_id=memory.agent_id, valid_from=memory.occurred_at, origin="extracted",
        retired_reason=RETRACTED if item.retracts else None,
    )


def _states(content: str, span: str) -> bool:
    """Whether ``span`` is words of ``content`` (case and spacing aside)."""
    words = " ".join(span.lower().split())
    return bool(words) and words in " ".join(content.lower().split())
