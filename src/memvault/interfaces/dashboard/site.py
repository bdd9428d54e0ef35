"""The dashboard's frame: templates, who is looking, CSRF, and errors shown as pages.

Every page handler receives a :class:`Visit` (the request, the viewer's user id, the open
Memvault and the CSRF token for its forms) from :meth:`Site.visit`, which answers for it
when the viewer must sign in, the Memvault is not open, or a POST lacks its CSRF token.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from memvault.__version__ import __version__
from memvault.core.audit import acting_as
from memvault.core.memvault import Memvault
from memvault.core.validate import check_identifier
from memvault.errors import InvalidInput, MemvaultError, NotFound
from memvault.interfaces.dashboard import views
from memvault.interfaces.dashboard.security import CSRF_FIELD, KEY_COOKIE, VIEW_AS_COOKIE, Csrf
from memvault.interfaces.identity import Authenticator, Scope
from memvault.interfaces.runtime import NotOpen, Runtime

__all__ = ["Handler", "Site", "Viewer", "Visit", "credential_check"]

log = logging.getLogger("memvault.dashboard")

#: Checks a credential typed at sign-in (or kept in the cookie): who it is (its user, and
#: its scope), or ``None`` when it is not valid.
CredentialCheck = Callable[[str], Awaitable["Viewer | None"]]


@dataclass(frozen=True)
class Viewer:
    user_id: str
    scope: Scope
    subject: str
    agent_id: str | None = None


@dataclass
class Visit:
    request: Request
    user_id: str
    memvault: Memvault
    csrf: str
    form: FormData | None = None
    admin: bool = False

    def field(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else ""


Handler = Callable[[Visit], Awaitable[Response]]


class Site:
    """Renders pages for the viewer; ``check`` is ``None`` on a server without credentials
    (then the viewer is ``user_id``, the configured user)."""

    def __init__(self, runtime: Runtime, user_id: str, check: CredentialCheck | None) -> None:
        self.runtime = runtime
        self.user_id = user_id
        self.check = check
        self.csrf = Csrf()
        self.env = Environment(
            loader=PackageLoader("memvault.interfaces.dashboard", "templates"),
            autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True,
        )
        self.env.filters["when"] = views.when
        self.env.filters["value"] = views.show_value
        self.env.globals["version"] = __version__

    def render(self, request: Request, template: str, *, status: int = 200,
               **context: Any) -> Response:
        cookie, new = self.csrf.cookie_value(request)
        html = self.env.get_template(template).render(
            request=request, csrf=self.csrf.token(cookie), signed_in=self.check is not None,
            own_user=getattr(request.state, "own_user", None), **context)
        response = HTMLResponse(html, status_code=status)
        if new:
            self.csrf.set_cookie(response, cookie, request.url.scheme == "https")
        return response

    def problem(self, request: Request, status: int, title: str, message: str) -> Response:
        return self.render(request, "problem.html", status=status, title=title,
                           message=message, user_id=None)

    async def viewer(self, request: Request) -> Viewer | None:
        if self.check is None:
            return Viewer(self.user_id, "admin", "local")
        key = request.cookies.get(KEY_COOKIE)
        return None if not key else await self.check(key)

    @staticmethod
    def viewed_user(request: Request, viewer: Viewer) -> str:
        """Whose memories ``viewer`` sees: their own, or for an ``admin`` viewer the user
        chosen with switch user. Any other scope's choice is ignored."""
        chosen = request.cookies.get(VIEW_AS_COOKIE)
        if viewer.scope != "admin" or not chosen:
            return viewer.user_id
        try:
            return check_identifier(chosen, "user")
        except InvalidInput:
            return viewer.user_id

    def page(self, handler: Handler, *, write: bool = False
             ) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` as a route endpoint: signed-in viewer, open Memvault, CSRF on writes,
        and :class:`MemvaultError` shown as a page (400 for bad input, 404 for not found)."""

        async def endpoint(request: Request) -> Response:
            viewer = await self.viewer(request)
            if viewer is None:
                return RedirectResponse("/ui/login", status_code=303)
            form = None
            if write:
                form = await request.form(max_files=1, max_fields=50)
                submitted = form.get(CSRF_FIELD)
                reason = self.csrf.problem(request,
                                           submitted if isinstance(submitted, str) else None)
                if reason is None and viewer.scope == "read":
                    reason = "this key may read memories but not change them"
                if reason is not None:
                    return self.problem(request, 403, "Refused", reason)
            try:
                memvault = await self.runtime.require()
            except NotOpen as exc:
                return self.problem(request, 503, "Memory is not open", str(exc))
            cookie, _ = self.csrf.cookie_value(request)
            request.state.own_user = viewer.user_id
            visit = Visit(request, self.viewed_user(request, viewer), memvault,
                          self.csrf.token(cookie), form, admin=viewer.scope == "admin")
            try:
                with acting_as(viewer.subject, viewer.agent_id):
                    return await handler(visit)
            except NotFound as exc:
                return self.problem(request, 404, "Not found", str(exc))
            except InvalidInput as exc:
                return self.problem(request, 400, "Not accepted", str(exc))
            except MemvaultError as exc:
                return self.problem(request, 503, "Store unavailable", str(exc))

        return endpoint

    async def login(self, request: Request) -> Response:
        """``GET``: the sign-in form; ``POST``: check the key and keep it in the cookie."""
        if self.check is None:
            return RedirectResponse("/ui/", status_code=303)
        if request.method == "GET":
            return self.render(request, "login.html", user_id=None, error=None)
        form = await request.form(max_files=0, max_fields=5)
        submitted = form.get(CSRF_FIELD)
        reason = self.csrf.problem(request, submitted if isinstance(submitted, str) else None)
        if reason is not None:
            return self.problem(request, 403, "Refused", reason)
        key = form.get("key")
        key = key.strip() if isinstance(key, str) else ""
        if not key or await self.check(key) is None:
            return self.render(request, "login.html", status=401, user_id=None,
                               error="That key is not valid.")
        response = RedirectResponse("/ui/", status_code=303)
        response.delete_cookie(VIEW_AS_COOKIE, path="/ui")  # a new viewer starts at their own
        response.set_cookie(KEY_COOKIE, key, httponly=True, samesite="strict", path="/ui",
                            secure=request.url.scheme == "https")
        return response

    async def switch(self, request: Request) -> Response:
        """``POST``: an admin viewer looks at the memories of the form's ``user`` (empty:
        their own again); any other viewer is refused and nothing changes."""
        viewer = await self.viewer(request)
        if viewer is None:
            return RedirectResponse("/ui/login", status_code=303)
        form = await request.form(max_files=0, max_fields=5)
        submitted = form.get(CSRF_FIELD)
        reason = self.csrf.problem(request, submitted if isinstance(submitted, str) else None)
        if reason is None and viewer.scope != "admin":
            reason = "only an admin credential may view another user's memories"
        if reason is not None:
            return self.problem(request, 403, "Refused", reason)
        chosen = form.get("user")
        user = chosen.strip() if isinstance(chosen, str) else ""
        response = RedirectResponse("/ui/", status_code=303)
        if not user or user == viewer.user_id:
            response.delete_cookie(VIEW_AS_COOKIE, path="/ui")
            return response
        try:
            check_identifier(user, "user")
        except InvalidInput as exc:
            return self.problem(request, 400, "Not accepted", str(exc))
        response.set_cookie(VIEW_AS_COOKIE, user, httponly=True, samesite="strict", path="/ui",
                            secure=request.url.scheme == "https")
        return response

    async def logout(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        submitted = form.get(CSRF_FIELD)
        if self.csrf.problem(request, submitted if isinstance(submitted, str) else None):
            return self.problem(request, 403, "Refused", "invalid CSRF token")
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(KEY_COOKIE, path="/ui")
        response.delete_cookie(VIEW_AS_COOKIE, path="/ui")
        return response


def credential_check(authenticators: Sequence[Authenticator], user_id: str
                     ) -> CredentialCheck:
    """The check of a server with credentials: the first of ``authenticators`` that accepts
    one; a credential bound to no user (the server's token) acts for ``user_id``. A store
    that cannot answer counts as not accepting (the browser is asked to sign in again)."""

    async def check(given: str) -> Viewer | None:
        for authenticator in authenticators:
            try:
                principal = await authenticator.authenticate(given)
            except MemvaultError as exc:
                log.warning("dashboard sign-in: cannot check the credential now: %s", exc)
                continue
            if principal is not None:
                return Viewer(principal.user_id or user_id, principal.scope,
                              principal.subject, principal.agent_id)
        return None

    return check
