"""What keeps the dashboard's pages safe to open in a browser.

* **Headers** on every page and asset (:data:`PAGE_HEADERS`): a content security policy that
  admits only this server's own scripts, styles and images (no inline script, no CDN, no
  frames), ``nosniff``, referrers only to itself, and ``no-store`` so a shared machine's
  browser cache keeps no memory text.
* **CSRF**: every state-changing request (``POST``) must carry a token that only a page of
  this server can know. The browser holds a random value in a ``SameSite=Strict``,
  ``HttpOnly`` cookie; pages embed ``HMAC(secret, value)``, the secret being the server
  process's own. A forged form from another site has neither, and the request is refused
  with 403 before anything is read or changed. ``Sec-Fetch-Site``, when the browser sends
  it, must say ``same-origin`` too. (Host and Origin are checked for every route by the HTTP
  app's guard before the dashboard sees a request.)
* **Who is looking**: on a server without credentials (loopback only, by the bind rule) the
  dashboard is the configured user's. With a token the browser signs in once
  (``/ui/login``): the credential is checked and kept in an ``HttpOnly``, ``SameSite=Strict``
  cookie scoped to ``/ui``, so the API and MCP endpoints never accept it (they need the
  ``Authorization`` header, which a forged cross-site request cannot set).
* **Switch user**: only a viewer whose credential has scope ``admin`` may look at another
  user's memories (``POST /ui/switch`` keeps the choice in a cookie). For any other scope the
  switch is refused and the cookie ignored, so a viewer sees only their own user.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "KEY_COOKIE", "PAGE_HEADERS", "VIEW_AS_COOKIE", "Csrf",
           "secure_headers"]

CSRF_COOKIE = "memvault_csrf"
CSRF_FIELD = "csrf"
KEY_COOKIE = "memvault_key"
#: The user an admin viewer chose to look at ("switch user"); read for admin viewers only.
VIEW_AS_COOKIE = "memvault_view_as"

_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
])

PAGE_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": _POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes a browser send `Origin: null`
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def secure_headers(response: Response) -> Response:
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class Csrf:
    """Tokens bound to a browser's cookie and this process's secret."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _sign(self, value: str) -> str:
        return hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()

    def cookie_value(self, request: Request) -> tuple[str, bool]:
        """The browser's CSRF cookie value, and whether it is new (to be set)."""
        value = request.cookies.get(CSRF_COOKIE, "")
        if len(value) == 43 and value.isascii():
            return value, False
        return secrets.token_urlsafe(32), True

    def token(self, cookie: str) -> str:
        return self._sign(cookie)

    def set_cookie(self, response: Response, cookie: str, secure: bool) -> None:
        response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="strict",
                            secure=secure, path="/ui")

    def problem(self, request: Request, submitted: str | None) -> str | None:
        """Why a state-changing request is refused, or ``None`` when it carries a valid
        token from one of this server's pages."""
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return "cross-site request refused"
        cookie = request.cookies.get(CSRF_COOKIE)
        if not cookie or not submitted:
            return "missing CSRF token: reload the page and try again"
        if not hmac.compare_digest(self._sign(cookie), submitted):
            return "invalid CSRF token: reload the page and try again"
        return None
