"""Who said it: the speaker label of a conversational memory, and speakers named in a query.

Conversation turns are commonly stored as ``"<speaker>: <text>"`` ("Caroline: I went to a
support group", "user: book me a window seat"). Search treats the label as structure rather
than words:

* the text that is embedded is the body without its label, so that a turn's vector says what
  was said, not who said it (the label would pull every question about a person towards every
  turn of theirs alike);
* when a query names a speaker ("What did Caroline research?"), that speaker's own turns are
  preferred, and the name is replaced by a pronoun in the text embedded for the query.

A label is one to three words before a colon at the very start: capitalised words (a name),
or one of the usual role names in any case (``user``, ``assistant``...), or a name of two to
four Han, Kana or Hangul characters ("张三：我明天去北京"; the full-width colon needs no space
after it, and ends a Latin name too). Anything else ("Note: ...", "备注：...", a URL, a time
such as "10:30") is not taken for a label when it does not look like a name; the cost of a
wrong guess is small, since the content itself is never changed. A name in CJK script is
found in a query wherever its characters stand, since those scripts put no space around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from memvault.analysis import CJK, is_cjk
from memvault.core.text.roles import ROLE_LABELS

__all__ = ["body_text", "mask_speakers", "speaker_of", "speakers_in", "speakers_named"]

#: Role labels (:mod:`memvault.core.text.roles`): a label in any case, never a name.
_ROLES = frozenset().union(*ROLE_LABELS.values())
_NOT_NAMES = frozenset(
    [
        "note", "notes", "update", "summary", "todo", "reminder", "important", "warning",
        "question", "answer", "q", "a", "re", "fwd", "subject", "tip", "fact", "edit", "ps",
        "http", "https", "mailto", "step", "example", "error", "info", "debug",
        # the same in Chinese and Japanese: headings, not speakers
        "注意", "备注", "注释", "说明", "总结", "摘要", "问题", "回答", "答案", "提示", "事实",
        "更新", "提醒", "重要", "警告", "错误", "信息", "步骤", "例如", "比如", "例子", "时间",
        "日期", "地点", "地址", "电话", "原因", "结果", "结论", "目标", "任务", "标题", "主题",
        "内容", "备忘", "待办", "补充", "附注", "注", "メモ", "注意", "質問", "回答", "要約",
    ]
)
_NAME = r"(?:[A-Z][\w'’.-]{0,30})(?:[ ][A-Z][\w'’.-]{0,30}){0,2}|[A-Za-z]{2,10}"
_LABEL = re.compile(
    rf"^\s*({_NAME}|[{CJK}]{{2,4}})(?:\s*:\s+|\s*：\s*)(?=\S)"
)


def speaker_of(content: str) -> str | None:
    """The speaker label at the start of ``content``, lower-cased, or ``None``."""
    match = _LABEL.match(content)
    return None if match is None else _speaker(match.group(1))


def speakers_in(content: str) -> frozenset[str]:
    """Every speaker of ``content``, lower-cased: the label it opens with and, when it opens
    with one (a stretch of a transcript, "Caroline: ...\nMelanie: ...", or a whole exchange,
    "user: ...\nassistant: ..."), the label of each later line. A note that does not open
    with a label has none ("Bought a laptop\nModel: X1\nPrice: 1200")."""
    first = speaker_of(content)
    if first is None:
        return frozenset()
    if "\n" not in content:
        return frozenset((first,))
    lines = content.splitlines()[1:]
    return frozenset([first, *(label for line in lines if (label := speaker_of(line)))])


def _speaker(label: str) -> str | None:
    lowered = label.lower()
    if lowered in _NOT_NAMES:
        return None
    if not label[0].isupper() and lowered not in _ROLES and not is_cjk(label[0]):
        return None
    return lowered


def body_text(content: str) -> str:
    """``content`` without its speaker label (unchanged when it has none)."""
    match = _LABEL.match(content)
    if match is None or speaker_of(content) is None:
        return content
    return content[match.end():]


def _name_pattern(name: str) -> re.Pattern[str]:
    if is_cjk(name[0]):  # no spaces around it: found wherever it stands
        return re.compile(re.escape(name))
    return re.compile(rf"(?<![^\W{CJK}]|['’])" + re.escape(name)
                      + rf"(?:['’]s)?(?![^\W{CJK}]|['’])", re.IGNORECASE)


def speakers_named(query: str, speakers: Iterable[str]) -> list[str]:
    """The speakers (lower-case labels) that ``query`` names, in order of first mention.

    Role labels such as ``user`` count only when written as a name would be; a query that
    says "the user" is about the user but seldom means their label alone.
    """
    found: list[tuple[int, str]] = []
    for speaker in set(speakers):
        if speaker in _ROLES:
            continue
        match = _name_pattern(speaker).search(query)
        if match is not None:
            found.append((match.start(), speaker))
    return [speaker for _, speaker in sorted(found)]


def mask_speakers(query: str, speakers: Iterable[str]) -> str:
    """``query`` with each named speaker (and their possessive) replaced by a pronoun
    ("they"; "TA", the written neutral pronoun of Chinese, for a name in CJK script)."""
    for speaker in speakers:
        query = _name_pattern(speaker).sub("TA" if is_cjk(speaker[0]) else "they", query)
    return query
