"""The dashboard's routes: pages under ``/ui/``, its assets under ``/ui/static/``, and
``GET /`` sending a browser to it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memvault.interfaces.dashboard.pages import Pages
from memvault.interfaces.dashboard.security import PAGE_HEADERS
from memvault.interfaces.dashboard.site import Site, credential_check
from memvault.interfaces.identity import Authenticator
from memvault.interfaces.runtime import Runtime

__all__ = ["dashboard_routes"]

_STATIC = Path(__file__).parent / "static"


class _Secured:
    """Adds :data:`~.security.PAGE_HEADERS` to every response of the dashboard."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k.lower().encode(), v.encode()) for k, v in PAGE_HEADERS.items()
                         if k.lower().encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def dashboard_routes(runtime: Runtime, user_id: str,
                     authenticators: Sequence[Authenticator] = ()) -> list[BaseRoute]:
    """The dashboard for ``runtime``: the configured ``user_id``'s on a server without
    credentials; with ``authenticators``, a browser signs in with a credential one of them
    accepts (a key, the server's token or an access token) and sees its user's memories."""
    site = Site(runtime, user_id,
                credential_check(authenticators, user_id) if authenticators else None)
    pages = Pages(site)
    page = site.page
    router = Router(routes=[
        Route("/", page(pages.timeline), methods=["GET"]),
        Route("/search", page(pages.search), methods=["GET"]),
        Route("/memories/{memory_id}", page(pages.memory), methods=["GET"]),
        Route("/memories/{memory_id}/delete", page(pages.delete_memory, write=True),
              methods=["POST"]),
        Route("/profile", page(pages.profile), methods=["GET"]),
        Route("/memories/{memory_id}/edit", page(pages.edit_memory, write=True),
              methods=["POST"]),
        Route("/profile", page(pages.set_fact, write=True), methods=["POST"]),
        Route("/profile/forget", page(pages.forget_fact, write=True), methods=["POST"]),
        Route("/graph", page(pages.graph), methods=["GET"]),
        Route("/graph.json", page(pages.graph_data), methods=["GET"]),
        Route("/housekeeping", page(pages.housekeeping), methods=["GET"]),
        Route("/export.jsonl", page(pages.export), methods=["GET"]),
        Route("/import", page(pages.import_file, write=True), methods=["POST"]),
        Route("/delete-all", page(pages.delete_all, write=True), methods=["POST"]),
        Route("/login", site.login, methods=["GET", "POST"]),
        Route("/logout", site.logout, methods=["POST"]),
        Route("/switch", site.switch, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=_STATIC)),
    ])

    async def home(_: object) -> Response:
        return RedirectResponse("/ui/", status_code=307)

    return [Route("/", home, methods=["GET"]), Mount("/ui", app=_Secured(router))]
