"""Who may file what (issue 9, item 1): the public files by web or app, gateways are clients.

Anyone may submit through the web form or the mobile app, without an account. A submission that
carries an ``externalRef`` (an idempotency key: a retry gets the earlier complaint back, with its
access code) or comes by any other channel (SMS, WhatsApp, e-mail, social media, walk-in desks:
all relayed by a gateway) must come from an OAuth client holding ``complaints:submit``. The
idempotency key is then the client's own: (client, channel, reference). Were it the tenant's, or
the reference alone, anyone who knew or guessed a gateway's message id would get that
complaint's access code back, and with it the reporter's tracking page, the answer, the rating.

The key is the client id, whoever the token speaks for: a staff app's token that carries
``complaints:submit`` is that app's, so two people submitting through one app share its
references, while two apps never do.
"""

from __future__ import annotations

import json
from typing import Final

from lapor.platform.errors import DomainError
from lapor.tenants.actors import Actor
from lapor.tenants.complaints.inputs import SubmitInput
from lapor.tenants.enums import Channel

SUBMIT_SCOPE: Final = "complaints:submit"
PUBLIC_CHANNELS: Final = frozenset({Channel.WEB, Channel.MOBILE})
"""What the public may use without a token (and without ``externalRef``)."""


def needs_client(data: SubmitInput) -> bool:
    return data.external_ref is not None or data.channel not in PUBLIC_CHANNELS


def submitting_client(
    data: SubmitInput, actor: Actor | None, auth_error: DomainError | None = None
) -> str | None:
    """The client id a submission is filed under, ``None`` for a public one; or the refusal.

    ``UNAUTHENTICATED`` without a valid client token (``auth_error`` says why a presented token
    was refused), ``FORBIDDEN`` without ``complaints:submit``. A public submission ignores any
    token: a reporter's browser with a stale token still files its complaint.
    """
    if not needs_client(data):
        return None
    if data.external_ref:
        what = ("pengaduan dengan externalRef", "a submission with externalRef")
    else:
        what = (f"pengaduan lewat kanal {data.channel.value}", f"a {data.channel.value} submission")
    if auth_error is not None:
        raise auth_error
    if actor is None or not actor.client_id:
        raise DomainError(
            "UNAUTHENTICATED",
            f"{what[0]} memerlukan token klien OAuth dengan cakupan {SUBMIT_SCOPE!r}; hanya WEB dan "
            f"MOBILE tanpa externalRef yang terbuka untuk umum ({what[1]} needs an OAuth client token "
            f"with the scope {SUBMIT_SCOPE!r}; only WEB and MOBILE without externalRef are public)",
        )
    if SUBMIT_SCOPE not in actor.scopes:
        raise DomainError(
            "FORBIDDEN",
            f"{what[0]} memerlukan cakupan {SUBMIT_SCOPE!r} ({what[1]} needs the scope {SUBMIT_SCOPE!r})",
        )
    return actor.client_id


def derivation_input(tenant_slug: str, client_id: str, data: SubmitInput) -> str:
    """What a retried submission's access code is derived from (with the platform's secret key).

    JSON, so no client id or reference can be crafted to collide with another's fields."""
    return json.dumps([tenant_slug, client_id, data.channel.value, data.external_ref])
