"""``memvault ui``: the dashboard on a loopback server, opened in the browser."""

from __future__ import annotations

import contextlib
import socket
import threading
import webbrowser

import click
import httpx

from memvault.interfaces.cli.main import _config, _run, _setup_logging

__all__ = ["ui"]

_READY_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _open_when_ready(url: str, stop: threading.Event) -> None:
    """Open ``url`` in the browser once the server answers (polling ``/health``, bounded)."""
    deadline = threading.Event()
    timer = threading.Timer(_READY_SECONDS, deadline.set)
    timer.daemon = True
    timer.start()
    while not (stop.is_set() or deadline.is_set()):
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url.replace("/ui/", "/health"), timeout=1.0)
            click.echo(f"memvault dashboard: {url}", err=True)
            webbrowser.open(url)
            return
        stop.wait(0.1)


@click.command()
@click.option("--port", default=0, type=int, show_default=True,
              help="Port on 127.0.0.1; 0 picks a free one.")
@click.option("--no-browser", is_flag=True, help="Print the address without opening it.")
@click.pass_context
def ui(ctx: click.Context, port: int, no_browser: bool) -> None:
    """Open the dashboard: your memories, search, profile and graph, on this machine only."""
    from memvault.interfaces.runtime import ServeOptions
    from memvault.interfaces.serve import serve as run_server

    _setup_logging("WARNING")
    config = _config(ctx)
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/ui/"
    options = ServeOptions(transport="http", host="127.0.0.1", port=port)
    stop = threading.Event()
    if no_browser:
        click.echo(f"memvault dashboard: {url}", err=True)
    else:
        threading.Thread(target=_open_when_ready, args=(url, stop), daemon=True).start()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            _run(lambda: run_server(config, options))
    finally:
        stop.set()
