"""GraphiQL served from the package, with headers that keep it from being framed or sniffed.

Issue 9 item 16: strawberry's page loads React and GraphiQL from unpkg.com, so any compromise of
that CDN (or of a network between) ran script on every tenant host's origin, next to staff
tokens; it had no CSP and could be framed. Here the page and its assets come from
``lapor/schema/static/graphiql`` (vendored, see its NOTICE.md), under a CSP that names no origin
but our own, ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``, ``nosniff`` and
``no-store``. The assets are answered on ``/graphql`` itself (``?asset=<name>``): the view is the
only route this package owns there, and a browser sends them relative to the page.

GraphiQL is a development tool: ``Settings.graphiql_enabled`` (``LAPOR_GRAPHIQL``) is on by
default only for a localhost or ``*.test`` base domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from starlette.responses import Response

STATIC = "static/graphiql"

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        # React and CodeMirror set style attributes at run time; no script may come inline.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
"""For the GraphiQL page: everything from this origin only (``connect-src 'self'`` covers the
websocket to the same host), nothing inline but styles, never inside a frame."""

API_CSP = "default-src 'none'; frame-ancestors 'none'"
"""For every other ``/graphql`` answer (JSON): nothing may run or be framed if a browser renders one."""


def security_headers(csp: str = API_CSP, *, cache: str = "no-store") -> dict[str, str]:
    """Headers for every ``/graphql`` answer; HTML ones get the GraphiQL ``CSP``."""
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": cache,
    }


@dataclass(frozen=True)
class Asset:
    name: str
    media_type: str
    body: bytes


_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}

ASSET_NAMES = frozenset(
    {
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "graphiql.min.css",
        "plugin-explorer.umd.js",
        "plugin-explorer.css",
        "page.js",
        "page.css",
    }
)
"""What ``?asset=`` may name: a fixed list, so no request can read any other packaged file."""


@cache
def asset(name: str) -> Asset | None:
    """A packaged asset by name, read once per process (``None`` for any other name)."""
    if name not in ASSET_NAMES:
        return None
    suffix = name[name.rindex(".") :]
    body = resources.files("lapor.schema").joinpath(STATIC, name).read_bytes()
    return Asset(name, _MEDIA_TYPES[suffix], body)


@cache
def page() -> bytes:
    return resources.files("lapor.schema").joinpath(STATIC, "index.html").read_bytes()


def page_response(extra_headers: dict[str, str]) -> Response:
    headers = {**security_headers(CSP), **extra_headers}
    return Response(page(), media_type="text/html; charset=utf-8", headers=headers)


def asset_response(found: Asset, extra_headers: dict[str, str]) -> Response:
    """Public, unchanging files: a browser may keep them a day (the page itself is no-store)."""
    headers = {**security_headers(CSP, cache="public, max-age=86400"), **extra_headers}
    return Response(found.body, media_type=found.media_type, headers=headers)
