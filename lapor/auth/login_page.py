"""The staff login and consent page of ``/oauth/authorize``: plain HTML, works without JavaScript.

Every value is escaped; the form carries the authorization request's parameters back, plus a
CSRF token bound to them and to an HttpOnly cookie of the browser, so the POST cannot be forged
from another site; each token works once (its nonce is claimed, ``lapor.auth.nonces``), so one
page cannot serve a run of password guesses. No inline script or style: the stylesheet is served
at ``STYLESHEET_PATH`` and the Content-Security-Policy (``SECURITY_HEADERS``) allows nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from html import escape

from lapor.auth.roles import ALL_SCOPES

CARRIED = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
CSRF_SECONDS = 900
COOKIE = "lapor_login"
"""HttpOnly cookie the CSRF tokens are bound to (a random value per browser)."""
STYLESHEET_PATH = "/oauth/login.css"
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
"""On every HTML answer of the authorization server (issue 9 item 16)."""
STYLESHEET = """body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
body{color:#222}
label{display:block;margin:.8rem 0 .2rem}input[type=email],input[type=password]{width:100%;padding:.5rem}
button{margin:1rem .5rem 0 0;padding:.5rem 1rem}.error{color:#a00;font-weight:bold}
"""

SCOPE_LABELS = {
    "complaints:read": "membaca pengaduan / read complaints",
    "complaints:submit": "mengirim pengaduan / submit complaints",
    "complaints:triage": "memverifikasi dan mendisposisi / verify, archive, assign",
    "complaints:respond": "menindaklanjuti / respond to complaints",
    "complaints:transfer": "meneruskan antarinstansi / transfer complaints",
    "reporters:read": "melihat identitas pelapor / see reporters' identity (audited)",
    "routing:read": "melihat aturan disposisi / read routing rules",
    "routing:write": "mengubah aturan disposisi / change routing rules",
    "units:write": "mengelola unit kerja / manage work units",
    "stats:read": "melihat statistik / read statistics",
    "national:read": "melihat data nasional / read national figures",
    "tenant:admin": "administrasi instansi / administer the agency",
}
assert set(SCOPE_LABELS) == ALL_SCOPES


def new_cookie() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(
    key: bytes, params: Mapping[str, str], cookie: str, now: float | None = None, nonce: str | None = None
) -> str:
    """``issued.nonce.mac``: the MAC covers the time, a fresh nonce, the cookie and the request."""
    issued = str(int(now if now is not None else time.time()))
    nonce = nonce or secrets.token_urlsafe(16)
    message = "|".join((issued, nonce, cookie, *(params.get(name, "") for name in CARRIED)))
    return f"{issued}.{nonce}.{hmac.new(key, message.encode(), hashlib.sha256).hexdigest()}"


def csrf_nonce(key: bytes, params: Mapping[str, str], cookie: str, token: str) -> str | None:
    """The token's nonce if it is fresh and was made for this cookie and request; else ``None``.

    The caller still has to claim the nonce: a valid token is refused the second time.
    """
    issued, _, rest = token.partition(".")
    nonce, _, _digest = rest.partition(".")
    if not cookie or not nonce or not issued.isdigit() or time.time() - int(issued) > CSRF_SECONDS:
        return None
    expected = csrf_token(key, params, cookie, float(issued), nonce)
    return nonce if hmac.compare_digest(expected, token) else None


def render(
    *, client_name: str, tenant_name: str, scopes: list[str], params: Mapping[str, str], csrf: str,
    error: str | None = None, email: str = "",
) -> str:  # fmt: skip
    hidden = "\n".join(
        f'<input type="hidden" name="{name}" value="{escape(params[name])}">'
        for name in CARRIED
        if name in params
    )
    items = "\n".join(f"<li>{escape(SCOPE_LABELS.get(s, s))}</li>" for s in scopes)
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Masuk LAPOR &middot; {escape(tenant_name)}</title>
<link rel="stylesheet" href="{STYLESHEET_PATH}"></head>
<body><h1>Masuk ke LAPOR</h1>
<p><strong>{escape(client_name)}</strong> meminta akses ke <strong>{escape(tenant_name)}</strong>:</p>
<ul>{items}</ul>{problem}
<form method="post" action="/oauth/authorize">
{hidden}
<input type="hidden" name="csrf" value="{escape(csrf)}">
<label for="email">Surel / e-mail</label>
<input id="email" name="email" type="email" required autocomplete="username" value="{escape(email)}">
<label for="password">Kata sandi / password</label>
<input id="password" name="password" type="password" required autocomplete="current-password">
<button type="submit" name="decision" value="approve">Izinkan / Allow</button>
<button type="submit" name="decision" value="deny" formnovalidate>Tolak / Deny</button>
</form></body></html>"""
