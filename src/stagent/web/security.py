"""Access control for every request: the access token, loopback-only access, and CSRF.

- With ``settings.token`` set, every request needs ``Authorization: Bearer <token>`` or the
  ``stagent_token`` cookie, which a browser gets by opening ``/?token=<token>`` once.
- Without a token, only loopback clients that address the server by a loopback host name are
  served (the host check defeats DNS rebinding).
- Every state-changing request (anything but GET, HEAD, OPTIONS) must present a valid Bearer
  token, or an ``X-CSRF-Token`` header equal to the ``stagent_csrf`` cookie (double submit).
  Pages carry the token in ``hx-headers`` on ``<body>``, so every htmx request sends it.
- Governance decisions (approve, deny, answer, rules, presets) also need *the person*:
  `require_owner` accepts ``Authorization: Bearer <owner token>`` or the ``stagent_owner`` cookie
  (HttpOnly, SameSite=Strict), which a browser gets by opening ``/?token=<owner token>`` once (the
  link ``stagent serve`` prints). The owner token (`Workspace.owner_token`) is never put in an
  agent's environment, so an agent on this machine can read the inbox but not decide it.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stagent.domain.errors import AuthError
from stagent.settings import Settings
from stagent.web.deps import get_workspace
from stagent.web.errors import error_response

CSRF_COOKIE = "stagent_csrf"
CSRF_HEADER = "x-csrf-token"
TOKEN_COOKIE = "stagent_token"
OWNER_COOKIE = "stagent_owner"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Style attributes are allowed (SortableJS clones dragged cards with their inline styles); style
# elements and every script must come from this server.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


class CsrfError(AuthError):
    """A state-changing request without a matching CSRF token (or a Bearer token)."""

    code = "csrf_failed"


def tokens_match(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison that is False when either side is missing."""
    if not given or not expected:
        return False
    return secrets.compare_digest(given.encode(), expected.encode())


def bearer_token(request: Request) -> str | None:
    """The token from an ``Authorization: Bearer`` header, if any."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _is_loopback_ip(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def is_loopback_client(host: str | None) -> bool:
    """True for connections from this machine."""
    if host is None:
        return False
    return host == "localhost" or _is_loopback_ip(host)


def is_loopback_hostname(host_header: str) -> bool:
    """True when the Host header names this machine (a loopback IP, ``localhost``)."""
    name = host_header.strip().lower()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    return _is_loopback_ip(name)


class OwnerRequiredError(AuthError):
    """A governance decision made without the person's token."""

    code = "owner_required"


def is_owner(request: Request, owner_token: str) -> bool:
    """True when the request carries the person's token (Bearer header or owner cookie)."""
    return any(
        tokens_match(given, owner_token)
        for given in (
            bearer_token(request),
            request.cookies.get(OWNER_COOKIE),
            request.cookies.get(TOKEN_COOKIE),  # with STAGENT_TOKEN set it is the same secret
        )
    )


def request_is_owner(request: Request) -> bool:
    """`is_owner` against the app's workspace."""
    return is_owner(request, get_workspace(request).owner_token())


def require_owner(request: Request) -> None:
    """FastAPI dependency: refuse (403) unless the person is asking."""
    if not request_is_owner(request):
        raise OwnerRequiredError(
            "this decision needs the person's token; agents cannot approve their own requests",
            hint="open the link `stagent serve` printed (/?token=...) once in this browser, "
            "send Authorization: Bearer <the token in owner.token in the Stagent home>, "
            "or use the CLI (stagent approve / deny / answer)",
        )


class SecurityMiddleware:
    """Pure ASGI middleware (safe for streaming responses) enforcing the rules above."""

    def __init__(
        self, app: ASGIApp, settings: Settings, owner_token: Callable[[], str] | None = None
    ) -> None:
        self.app = app
        self.settings = settings
        self.owner_token = owner_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal, has_bearer = self._check_access(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if request.method not in SAFE_METHODS and not has_bearer:
            given = request.headers.get(CSRF_HEADER)
            if not tokens_match(given, request.cookies.get(CSRF_COOKIE)):
                error = CsrfError(
                    "this request needs a CSRF token",
                    hint=f"send the {CSRF_COOKIE} cookie's value in an X-CSRF-Token header, "
                    "or authenticate with Authorization: Bearer <token>",
                )
                await self._refuse(request, error)(scope, receive, send)
                return
        csrf = request.cookies.get(CSRF_COOKIE) or ""
        new_cookie = not csrf
        if new_cookie:
            csrf = secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf_token"] = csrf
        await self.app(scope, receive, _with_headers(send, csrf if new_cookie else None))

    def _check_access(self, request: Request) -> tuple[Response | None, bool]:
        """Return (a refusal or None, whether a valid Bearer token was presented)."""
        token = self.settings.token
        if not token:
            if is_loopback_client(request.client.host if request.client else None) and (
                is_loopback_hostname(request.headers.get("host", ""))
            ):
                return self._owner_sign_in(request), self._bearer_is_owner(request)
            error = AuthError(
                "without an access token only this machine may connect, by 127.0.0.1 or localhost",
                hint="set STAGENT_TOKEN to serve other machines",
            )
            return self._refuse(request, error), False
        if tokens_match(bearer_token(request), token):
            return None, True
        query_token = request.query_params.get("token")
        if request.method == "GET" and tokens_match(query_token, token):
            owner = self.owner_token() if self.owner_token else None
            return _token_redirect(request, token, owner=tokens_match(token, owner)), False
        if tokens_match(request.cookies.get(TOKEN_COOKIE), token):
            return None, False
        error = AuthError(
            "an access token is required",
            hint="send Authorization: Bearer <token>, or open /?token=<token> once in the browser",
        )
        return self._refuse(request, error), False

    def _bearer_is_owner(self, request: Request) -> bool:
        """A Bearer owner token counts like an access token (no CSRF: browsers never send it)."""
        if self.owner_token is None or bearer_token(request) is None:
            return False
        return tokens_match(bearer_token(request), self.owner_token())

    def _owner_sign_in(self, request: Request) -> Response | None:
        """``GET /?token=<owner token>`` without an access token: set the owner cookie."""
        given = request.query_params.get("token")
        if request.method != "GET" or not given or self.owner_token is None:
            return None
        owner = self.owner_token()
        if not tokens_match(given, owner):
            return None
        return _token_redirect(request, owner, access=False, owner=True)

    @staticmethod
    def _refuse(request: Request, error: AuthError) -> Response:
        htmx = request.headers.get("hx-request") == "true"
        response = error_response(request.url.path, error.to_dict(), htmx=htmx)
        response.headers.update(SECURITY_HEADERS)
        return response


def _token_redirect(
    request: Request, token: str, *, access: bool = True, owner: bool = False
) -> Response:
    """Store the token in the access cookie and/or the owner cookie, and redirect to the same
    URL without it."""
    rest = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "token"]
    target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
    response = RedirectResponse(target, status_code=303)
    if access:
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
    if owner:
        response.set_cookie(OWNER_COOKIE, token, httponly=True, samesite="strict", path="/")
    response.headers.update(SECURITY_HEADERS)
    return response


def _with_headers(send: Send, new_csrf: str | None) -> Send:
    """Wrap ``send`` to add the security headers (and a new CSRF cookie) to the response."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                if name not in headers:
                    headers[name] = value
            if new_csrf is not None:
                headers.append("set-cookie", _csrf_cookie(new_csrf))
        await send(message)

    return wrapped


def _csrf_cookie(value: str) -> str:
    cookie: SimpleCookie = SimpleCookie()
    cookie[CSRF_COOKIE] = value
    morsel: Any = cookie[CSRF_COOKIE]
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = "Strict"
    return morsel.OutputString()
