"""Two ways of cutting Chinese for full-text search, through memvault's lexical search.

memvault's analysis (:mod:`memvault.analysis`) cuts a run of Han, Kana or Hangul characters
into overlapping character pairs and single characters, as Lucene's CJK analyzer does. A
dictionary segmenter finds words instead: this benchmark puts jieba's search-engine mode
(``jieba.cut_for_search``, words and the dictionary words inside them) in the pairs' place,
for the index and the queries alike, and compares the two on the Chinese set of
``benchmarks/data/multilingual_zh.json`` with no embedder (full text alone), in process::

    pip install jieba
    python benchmarks/cjk_segmenters.py
    python benchmarks/cjk_segmenters.py --json segmenters.json

For each segmenter it reports hit@1 and hit@3 of the monolingual queries (Chinese and
mixed script; a cross-lingual query cannot be found by full text), and how long analysing
the memories takes (characters per second of one thread, the analysis alone).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: the benchmarks package is in the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from benchmarks.common import load_average, machine, write_json
from memvault import Memvault, analysis

__all__ = ["main"]

DATA = Path(__file__).resolve().parent / "data" / "multilingual_zh.json"
MONOLINGUAL = ("zh", "mixed")
#: How often the memories are analysed for the speed figure.
ROUNDS = 200


def _jieba() -> Callable[[str], list[str]]:
    """A stand-in for the pairs: jieba's search-engine words of each piece of a CJK run."""
    import jieba  # type: ignore[import-untyped, import-not-found, unused-ignore]  # optional

    jieba.setLogLevel(60)
    jieba.initialize()
    pairs = analysis._bigrams

    def cut(run: str) -> list[str]:
        out: list[str] = []
        for piece in analysis._BREAK.split(run):
            if piece:
                out.extend(w for w in jieba.cut_for_search(piece, HMM=True) if w.strip())
        return out or pairs(run)

    return cut


async def _search(data: dict[str, Any], database: Path) -> dict[str, Any]:
    ranks: list[int | None] = []
    async with Memvault.open(str(database), user_id="bench", embedder="none") as mv:
        ids = [(await mv.add(content)).id for content in data["memories"]]
        for item in data["queries"]:
            if item["kind"] not in MONOLINGUAL:
                continue
            found = [h.memory.id for h in (await mv.search(item["query"], limit=10)).hits]
            want = ids[item["expected"]]
            ranks.append(found.index(want) + 1 if want in found else None)
    n = len(ranks)
    return {"n": n,
            "hit@1": round(sum(r == 1 for r in ranks) / n, 4),
            "hit@3": round(sum(r is not None and r <= 3 for r in ranks) / n, 4)}


def _speed(memories: Sequence[str]) -> float:
    """Characters analysed per second, one thread."""
    chars = sum(len(m) for m in memories) * ROUNDS
    start = time.process_time()
    for _ in range(ROUNDS):
        for memory in memories:
            analysis.tokens(memory)
    return chars / max(time.process_time() - start, 1e-9)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    data = json.loads(args.data.read_text(encoding="utf-8"))
    before = load_average()
    try:
        segmenters = {"pairs": analysis._bigrams, "jieba": _jieba()}
    except ImportError:
        sys.exit("jieba is not installed: pip install jieba")
    report: dict[str, Any] = {"segmenters": {}}
    pairs = analysis._bigrams
    try:
        for name, cut in segmenters.items():
            setattr(analysis, "_bigrams", cut)  # noqa: B010 - a module function swapped
            with tempfile.TemporaryDirectory() as tmp:
                scores = anyio.run(_search, data, Path(tmp) / f"{name}.db")
            scores["chars_per_second"] = round(_speed(data["memories"]))
            report["segmenters"][name] = scores
            print(f"{name:6} n={scores['n']}  hit@1 {scores['hit@1']:.3f}  "
                  f"hit@3 {scores['hit@3']:.3f}  analysis {scores['chars_per_second']:,} "
                  f"chars/s")
    finally:
        setattr(analysis, "_bigrams", pairs)  # noqa: B010 - a module function swapped
    report["machine"] = machine([before, load_average()])
    if args.json:
        write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
