"""The staff login and consent page of ``/oauth/authorize``: plain HTML, works without JavaScript.

Every value is escaped; the form carries the authorization request's parameters back, plus a
CSRF token bound to them, so the POST cannot be forged from another site.
"""

from __future__ import annotations

import hashlib
import hmac
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


def csrf_token(key: bytes, params: Mapping[str, str], now: float | None = None) -> str:
    issued = str(int(now if now is not None else time.time()))
    message = issued + "|" + "|".join(params.get(name, "") for name in CARRIED)
    return issued + "." + hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def csrf_valid(key: bytes, params: Mapping[str, str], token: str) -> bool:
    issued, _, _digest = token.partition(".")
    if not issued.isdigit() or time.time() - int(issued) > CSRF_SECONDS:
        return False
    return hmac.compare_digest(csrf_token(key, params, float(issued)), token)


def render(
    *, client_name: str, tenant_name: str, scopes: list[str], params: Mapping[str, str], csrf: str,
    error: str | None = None,
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
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}}
label{{display:block;margin:.8rem 0 .2rem}}input[type=email],input[type=password]{{width:100%;padding:.5rem}}
button{{margin:1rem .5rem 0 0;padding:.5rem 1rem}}.error{{color:#a00;font-weight:bold}}</style></head>
<body><h1>Masuk ke LAPOR</h1>
<p><strong>{escape(client_name)}</strong> meminta akses ke <strong>{escape(tenant_name)}</strong>:</p>
<ul>{items}</ul>{problem}
<form method="post" action="/oauth/authorize">
{hidden}
<input type="hidden" name="csrf" value="{escape(csrf)}">
<label for="email">Surel / e-mail</label>
<input id="email" name="email" type="email" required autocomplete="username">
<label for="password">Kata sandi / password</label>
<input id="password" name="password" type="password" required autocomplete="current-password">
<button type="submit" name="decision" value="approve">Izinkan / Allow</button>
<button type="submit" name="decision" value="deny" formnovalidate>Tolak / Deny</button>
</form></body></html>"""
