"""Query strings never reach the access log (issue 9 item 9).

``trackComplaint`` sent with GET put the reporter's access code in the URL, and uvicorn's access
log writes every URL with its query string. The view now refuses GET for any operation carrying
a secret, but a URL can hold other things a log must not keep (``/oauth/authorize`` parameters,
a client's mistake), so uvicorn's access lines keep the path only: ``?`` and what follows become
``?<redacted>``. Installed by the GraphQL view when the app is built, so it holds however uvicorn
is started (``lapor serve``, ``uvicorn --factory``, several workers).
"""

from __future__ import annotations

import logging

REDACTED = "?<redacted>"
ACCESS_LOGGER = "uvicorn.access"
ERROR_LOGGER = "uvicorn.error"
"""uvicorn logs websocket handshakes (``"WebSocket /graphql?..." [accepted]``) on this one."""


def redact_path(path: str) -> str:
    head, mark, _query = path.partition("?")
    return head + REDACTED if mark else path


class QueryStringRedactor(logging.Filter):
    """Rewrites the path argument of uvicorn's access and websocket lines; keeps every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or not args:
            return True
        if record.name == ACCESS_LOGGER and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        elif record.name == ERROR_LOGGER and "WebSocket %s" in str(record.msg):
            record.args = tuple(redact_path(a) if isinstance(a, str) and "?" in a else a for a in args)
        return True


def install() -> None:
    """Once per process: a second call finds the filter already there."""
    for name in (ACCESS_LOGGER, ERROR_LOGGER):
        logger = logging.getLogger(name)
        if not any(isinstance(f, QueryStringRedactor) for f in logger.filters):
            logger.addFilter(QueryStringRedactor())
