"""Roles are not people: ``user:`` / ``assistant:`` labels, and whom a question addresses.

A chat between a person and an assistant is stored as ``"user: ..."`` / ``"assistant: ..."``
turns (also ``system:`` and ``tool:``, and the synonyms ``human``, ``ai``, ``bot``...). Those
labels name a role in the conversation, not a person: a query never names "user" the way it
names "Caroline", but it points at a role by its pronouns. Asked of the memory layer by one of
the two parties, a question in the first person ("what did I say about my budget?") is about
the user's own turns; one in the second person ("which framework did you recommend?") is about
the assistant's. "the user" / "the assistant" written out point at the role too.

:func:`role_of` reads the role of a memory's speaker label, :func:`roles_addressed` the
roles a query points at, best first. Search uses them as a preference, never as a filter
(:mod:`memvault.core.search.retrieve`): a user's question is often answered by what the
assistant said back, and the other way round.
"""

from __future__ import annotations

import re

__all__ = ["ROLES", "ROLE_LABELS", "role_of", "roles_addressed"]

#: The roles, and the speaker labels that mean each of them (lower case).
ROLE_LABELS: dict[str, frozenset[str]] = {
    "user": frozenset(["user", "human", "me", "用户", "ユーザー", "사용자"]),
    "assistant": frozenset(["assistant", "ai", "bot", "agent", "model", "chatbot",
                            "助手", "助理", "アシスタント", "어시스턴트"]),
    "system": frozenset(["system", "系统", "システム", "시스템"]),
    "tool": frozenset(["tool", "工具", "ツール", "도구"]),
}
ROLES = tuple(ROLE_LABELS)
_ROLE_OF_LABEL = {label: role for role, labels in ROLE_LABELS.items() for label in labels}

_FIRST = re.compile(r"\b(?:i|me|my|mine|myself|i'm|i've|i'd|i'll)\b", re.IGNORECASE)
_SECOND = re.compile(r"\b(?:you|your|yours|yourself|you're|you've|you'd|you'll)\b",
                     re.IGNORECASE)
#: The subject of the question: a pronoun after the question's auxiliary ("did you",
#: "have I") or before a verb of saying ("you said", "I told").
_SUBJECT = re.compile(
    r"\b(?:do|does|did|have|has|had|was|were|am|are|is|will|would|can|could|should|shall)"
    r"\s+(i|you)\b|\b(i|you)\s+(?:said|say|told|tell|mentioned|mention|recommended|"
    r"recommend|suggested|suggest|asked|ask|wrote|write|gave|give|shared|share|promised|"
    r"explained|talked|noted|decided|planned|wanted|want|need|needed|like|liked|used|got|"
    r"bought|went|have|had|was|am)\b",
    re.IGNORECASE,
)
#: A request to the assistant around the real question ("can you remind me what I ordered?",
#: "do you remember ..."): its "you" is the one asked, not the one the question is about.
_REQUEST = re.compile(
    r"^\W*(?:please\s+)?(?:(?:can|could|would|will|do|did)\s+you\s+(?:please\s+)?)?"
    r"(?:remind\s+me|tell\s+me|remember|recall|know|help\s+me\s+(?:remember|recall|find)|"
    r"find|show\s+me|list|give\s+me|look\s+up)\b(?:\s+(?:of|about|again))?",
    re.IGNORECASE,
)
_NAMED = re.compile(r"\b(?:the\s+)?(user|assistant)(?:['’]s)?\b", re.IGNORECASE)
#: Chinese, Japanese and Korean pronouns of the first and second person, and the roles
#: written out: found anywhere, since those scripts put no space around them.
_FIRST_CJK = re.compile("[我]|私|僕|俺|저는|제가|나는|내가")
_SECOND_CJK = re.compile("[你您]|あなた|당신")
_NAMED_CJK = {"用户": "user", "助手": "assistant", "助理": "assistant"}
_PRONOUN_ROLE = {"i": "user", "you": "assistant"}


def role_of(label: str | None) -> str | None:
    """The role (one of :data:`ROLES`) a speaker label means
    (:func:`memvault.core.text.speakers.speaker_of`), or ``None`` (no label, or a name)."""
    return None if label is None else _ROLE_OF_LABEL.get(label)


def roles_addressed(query: str) -> list[str]:
    """The roles ``query`` points at, best first: ``[]``, ``["user"]``, ``["assistant"]``
    or both.

    "the user" / "the assistant" written out count first; then the subject pronoun ("what
    did *you* recommend for my trip?" is about the assistant's turn); then whichever person
    the pronouns are in. A question in both persons with no clear subject names both. A
    request around the question ("can you remind me ...", "do you remember ...") is left
    out.
    """
    query = _REQUEST.sub(" ", query, count=1)
    named = [match.group(1).lower() for match in _NAMED.finditer(query)]
    named += [role for word, role in _NAMED_CJK.items() if word in query]
    subject = _SUBJECT.search(query)
    found: list[str] = list(dict.fromkeys(named))
    if subject is not None:
        found.append(_PRONOUN_ROLE[(subject.group(1) or subject.group(2)).lower()])
    if _FIRST.search(query) or _FIRST_CJK.search(query):
        found.append("user")
    if _SECOND.search(query) or _SECOND_CJK.search(query):
        found.append("assistant")
    return list(dict.fromkeys(found))
