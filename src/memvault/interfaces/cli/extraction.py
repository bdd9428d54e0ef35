"""How ``memvault doctor`` shows profile extraction (:class:`~memvault.models.ExtractionReport`)."""

from __future__ import annotations

import click

from memvault.models import ExtractionReport

__all__ = ["echo_extraction"]


def echo_extraction(report: ExtractionReport | None) -> None:
    """Lines for the extraction queue: its state, backlog, failures with their reasons."""
    if report is None or report.state == "off":
        click.echo("extraction: off (set llm.model to extract profile facts)")
        return
    click.echo(f"extraction: {report.state}, {report.model} at {report.base_url}")
    if report.state == "unsupported":
        click.echo("            the episodic store keeps no job queue: only SQLite does")
    queue = report.queue
    if queue is not None:
        oldest = "" if queue.oldest_queued is None else \
            f", oldest {queue.oldest_queued.isoformat(timespec='seconds')}"
        click.echo(f"            queued {queue.queued} ({queue.claimed} claimed{oldest}), "
                   f"done {queue.done}, failed {queue.failed}, "
                   f"tokens in 24 h {queue.tokens_24h}")
        if report.deferred:
            click.echo(f"            {report.deferred} deferred beyond max_queue "
                       f"{report.max_queue} (kept, worked on in turn)")
        for failure in queue.failures:
            click.echo(f"[FAIL] job {failure.memory_id} ({failure.user_id}, "
                       f"{failure.attempts} attempts): {failure.error}")
    if report.last_error:
        click.echo(f"            last error: {report.last_error}")
    summaries = report.summaries
    if summaries is not None:
        click.echo(f"summaries:  queued {summaries.queued} (sessions not idle yet included), "
                   f"done {summaries.done}, failed {summaries.failed}, "
                   f"tokens in 24 h {summaries.tokens_24h}")
        for failure in summaries.failures:
            click.echo(f"[FAIL] summary of session {failure.session_id} ({failure.user_id}, "
                       f"{failure.attempts} attempts): {failure.error}")
