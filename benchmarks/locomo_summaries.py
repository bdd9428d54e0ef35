"""Do session summaries help LoCoMo retrieval? The LoCoMo protocol of ``locomo.py``, run
twice over the same conversations: once as usual, once with ``llm.summaries`` on, where after
the ingest every session is summarised (the worker of memvault, idle time 0) before the
questions are asked::

    python benchmarks/locomo_summaries.py locomo10.json --limit-conversations 2
    python benchmarks/locomo_summaries.py locomo10.json --limit-conversations 1 \\
        --summariser http://127.0.0.1:8088/v1 --model smollm2     # a served model

``--summariser deterministic`` (the default) needs no model: a scripted OpenAI-compatible
server on loopback answers each summary request with an extractive summary, the speakers
and the session's most frequent content words and names, so the run is repeatable; any
other value is the base URL of an OpenAI-compatible server (llama.cpp, Ollama, vLLM).

The evidence of a question is turns, and a summary is not a turn, so recall with summaries
is counted two ways, both over the first k hits (a summary hit takes one of the k places):

- ``strict``: a summary hit finds no evidence (it only takes a place);
- ``linked``: a summary hit finds every evidence turn it is linked to (its source turns),
  an upper bound of what a reader following the link to the turns could get.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from benchmarks.common import load_average, write_json
from benchmarks.locomo import turn_key
from benchmarks.locomo_data import KS, Conversation, Key, Question, load_dataset, select
from memvault import Memory, Memvault
from memvault.core.text.stopwords import STOP_WORDS

__all__ = ["extractive_summary", "main"]

#: Chat filler that a summary would not repeat.
_FILLER = frozenset((
    "wow", "really", "cool", "great", "awesome", "amazing", "hey", "yeah", "yes", "okay",
    "thanks", "thank", "glad", "good", "nice", "sounds", "lot", "things", "thing", "much",
    "totally", "definitely", "sure", "know", "think", "just", "like", "also",
))
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
_LINE = re.compile(r"^\[[^\]]*\] (?:([^:]{1,40}): )?(.*)$")


def extractive_summary(conversation: str, words: int = 20) -> str:
    """A deterministic stand-in for a model's summary of ``[date] Speaker: text`` lines."""
    speakers: list[str] = []
    counts: Counter[str] = Counter()
    for line in conversation.splitlines():
        found = _LINE.match(line)
        if found is None:
            continue
        speaker, text = found.groups()
        if speaker and speaker not in speakers:
            speakers.append(speaker)
        counts.update(w.lower() for w in _WORD.findall(text)
                      if w.lower() not in STOP_WORDS and w.lower() not in _FILLER)
    for speaker in speakers:
        counts.pop(speaker.lower(), None)
    top = [w for w, _ in counts.most_common(words)]
    who = " and ".join(speakers) or "The speakers"
    return f"{who} talked about {', '.join(top)}."


@contextlib.contextmanager
def deterministic_server() -> Iterator[str]:
    """A loopback chat-completions server answering with :func:`extractive_summary`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            prompt = str(body["messages"][-1]["content"]).split("Conversation:\n", 1)[-1]
            text = json.dumps({"summary": extractive_summary(prompt)})
            data = json.dumps({"choices": [{"index": 0, "message": {
                "role": "assistant", "content": text}}], "usage": {"total_tokens": 0}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _recall(evidence: frozenset[Key], found: set[Key]) -> float:
    return len(evidence & found) / len(evidence)


async def _conversation(conversation: Conversation, questions: Sequence[Question],
                        directory: Path, options: argparse.Namespace, url: str | None,
                        totals: dict[str, Any]) -> None:
    user = conversation.sample_id
    llm: dict[str, Any] = {}
    if url is not None:
        llm = {"model": options.model, "base_url": url, "extract": False, "summaries": True,
               "summary_idle_seconds": 0, "requests_per_minute": 100_000,
               "timeout_seconds": options.timeout, "max_attempts": 2, "retry_seconds": 1}
    name = "on" if url is not None else "off"
    async with Memvault.open(directory / f"{user}-{name}.db", user_id=user,
                             embedder=options.embedder, llm=llm) as mv:
        await mv.wait_until_ready()
        keys: dict[str, Key] = {}
        for session in conversation.sessions:
            memories = await mv.add_many([
                {"content": t.content, "session_id": session.session_id,
                 "metadata": {"dia_id": t.dia_id}, "occurred_at": session.occurred_at}
                for t in session.turns])
            keys.update((m.id, turn_key(m)) for m in memories)
        await mv.wait_for_vectors()
        if url is not None:
            start = time.perf_counter()
            done = await mv.extraction.summaries.wait_until_done(options.wait)
            seconds = time.perf_counter() - start
            stats = await mv.extraction.summaries.stats()
            assert stats is not None
            totals["summary_seconds"] += seconds
            totals["sessions"] += len(conversation.sessions)
            totals["summaries_done"] += stats.done
            totals["summaries_failed"] += stats.failed
            if not done:
                print(f"{user}: summaries not all done in {options.wait} s", file=sys.stderr)
            await mv.wait_for_vectors()
            first_session = conversation.sessions[0].session_id
            summaries = [m for m in (await mv.list(session_id=first_session, limit=100)).items
                         if m.derived]
            totals["examples"].extend(m.content for m in summaries[:2])
            print(f"{user}: {stats.done} summaries ({stats.failed} failed) in {seconds:.1f} s",
                  file=sys.stderr, flush=True)
        for question in questions:
            result = await mv.search(question.text, user_id=user, limit=max(KS))
            hits: list[Memory] = [h.memory for h in result.hits]
            for k in KS:
                first = hits[:k]
                strict = {keys[m.id] for m in first if m.derived is None and m.id in keys}
                linked = set(strict)
                for m in first:
                    if m.derived is not None:
                        linked.update(keys[s] for s in m.derived.source_ids if s in keys)
                totals[f"{name}_strict@{k}"] += _recall(question.evidence, strict)
                totals[f"{name}_linked@{k}"] += _recall(question.evidence, linked)
                totals[f"{name}_summary_hits@{k}"] += sum(1 for m in first if m.derived)
            totals[f"{name}_questions"] += 1


async def run(conversations: Sequence[Conversation], questions: Sequence[Question],
              options: argparse.Namespace, url: str) -> dict[str, Any]:
    totals: dict[str, Any] = Counter()
    totals["examples"] = []
    with tempfile.TemporaryDirectory(prefix="memvault-locomo-summaries-") as tmp:
        for conversation in conversations:
            asked = [q for q in questions if q.sample_id == conversation.sample_id]
            for mode in (None, url):
                await _conversation(conversation, asked, Path(tmp), options, mode, totals)
    report: dict[str, Any] = {"questions": totals["off_questions"]}
    for name in ("off", "on"):
        n = max(totals[f"{name}_questions"], 1)
        for k in KS:
            report[f"{name}_strict@{k}"] = round(totals[f"{name}_strict@{k}"] / n, 4)
            report[f"{name}_linked@{k}"] = round(totals[f"{name}_linked@{k}"] / n, 4)
            report[f"{name}_summary_hits@{k}"] = round(totals[f"{name}_summary_hits@{k}"] / n, 2)
    for key in ("summary_seconds", "sessions", "summaries_done", "summaries_failed"):
        report[key] = totals[key]
    report["examples"] = totals["examples"][:4]
    return report


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="locomo_summaries.py", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path)
    parser.add_argument("--embedder", choices=["local", "e5", "none"], default="local")
    parser.add_argument("--summariser", default="deterministic",
                        help="deterministic, or an OpenAI-compatible base URL")
    parser.add_argument("--model", default="summariser", help="the served model's name")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    parser.add_argument("--wait", type=float, default=7200.0,
                        help="seconds to wait for a conversation's summaries")
    parser.add_argument("--limit-conversations", type=int, default=2)
    parser.add_argument("--limit-questions", type=int, default=None)
    parser.add_argument("--json", type=Path, dest="json_out")
    args = parser.parse_args(argv)
    dataset = load_dataset(args.path)
    conversations, questions = select(dataset, args.limit_conversations, args.limit_questions)
    load = [load_average()]
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        url = (stack.enter_context(deterministic_server())
               if args.summariser == "deterministic" else args.summariser)
        report = anyio.run(run, conversations, questions, args, url)
    load.append(load_average())
    report.update(summariser=args.summariser, embedder=args.embedder,
                  conversations=len(conversations), load=load,
                  wall_seconds=round(time.perf_counter() - started, 1))
    print(json.dumps(report, indent=2))
    if args.json_out is not None:
        write_json(args.json_out, report)
    return report


if __name__ == "__main__":
    main()
