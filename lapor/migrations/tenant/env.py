"""Alembic environment of the `tenant` track.

`lapor migrate` drives this track itself (see lapor/platform/migrations.py) so that the
migration graph is built once, not once per tenant. This file exists so that
`alembic -c lapor/migrations/alembic.ini -n tenant revision -m "..."` can create new revisions.
"""

from alembic import context

if not context.is_offline_mode():
    raise SystemExit("Run migrations with `lapor migrate`, not with the alembic command.")
