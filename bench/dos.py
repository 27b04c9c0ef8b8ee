"""Issue 9's denial-of-service items (3, 5, 6, 7, 12) fired at a real local server, about a minute.

In a scratch database (created and dropped here) on the local PostgreSQL: a national tenant, a
province and 16 regencies under it, named ``dos<run>-*`` so Redis keys never meet another run's
or a test's. One regency gets ``--complaints`` public complaints in one ``INSERT ... SELECT
generate_series`` as the superuser; every body says "sampah" (a word in nearly every row is the
costly search: the planner reads the whole table instead of the index). OAuth clients and a
staff account are registered through the accounts service. The server then runs as
``lapor serve`` itself (one worker, Redis on 127.0.0.1:6379, default rate limits, log level
WARNING), and every measurement comes from fresh loopback source addresses (127.X.Y.Z), so each
rate-limit bucket it reads starts empty and one item's spending never refuses another's.

Measured: CPU seconds of the server process and of the PostgreSQL backends (parallel workers
included) serving the scratch database, read from /proc by psutil in a sampling thread
(pg_stat_statements is not loaded on this shared server); the server's RSS (peak sampled every
20 ms); search statements seen running in pg_stat_activity; the points a request was charged
(``RateLimit-Limit`` minus ``RateLimit-Remaining`` on a fresh bucket). /proc counts CPU in 10 ms
ticks, so one cheap request reads 0 or 10 ms: per-request figures come from the bursts.

Items and what "held" means here:

- 3: one ``publicComplaints(first: 100, filter: {search: "sampah"})`` without a token; then
  ``--searchers`` addresses searching in a loop for ``--search-seconds`` (each stops at its first
  429) while a cheap query runs every 0.2 s on another tenant; mid-attack, one client leaves its
  search after a second. Held: every search answered within 5 s or refused (429 or a coded
  error), no statement outlived its client, the other tenant's p95 under 1 s with no failure.
- 5: 40 concurrent ``/oauth/introspect`` with a real client id and wrong secrets (one address),
  then 40 wrong passwords on the login form at once (40 addresses, so only the hashing bound can
  refuse them). Held: RSS grew less than 300 MiB each time; introspection did no argon2 (under
  20 ms of server CPU each) or got 429; the logins got 429 or were all answered within 10 s.
- 6: graphql-transport-ws without a token: 400 queries on one connection (50 in flight at once,
  under strawberry's per-connection cap), 20 messages of 10 aliased ``submitComplaint``; an HTTP
  request from the same address then reads what the websocket spent from its bucket. Then 30
  connections from one address with one client token x 100 ``complaintEvents`` each, an event,
  the token revoked, up to 35 s for its subscriptions to end (the server's default recheck is
  30 s; watched while items 7 and 12 run), another event. Held: what ran over
  the websocket was charged (or refused), connections or subscriptions capped, nothing delivered
  after the revocation.
- 7: one document of 30 aliased full introspections, one of 30 aliased submissions, one address
  spending on 10 tenant hosts at once. Held: at least 1 point per alias (or refused), and the 10
  hosts together gave that address less than 10 per-tenant budgets (a platform-wide bucket).
- 12: 10 connections sending headers one byte every 0.5 s, 10 sending a body the same way,
  one 1 MiB header, watched for ``--observe`` seconds. Held: each slow connection cut within
  20 s, the 1 MiB header refused (431, 400 or 413, or the connection closed).

The server runs the code of the working tree by default (work in progress included: the
``code:`` line counts uncommitted files under lapor/). ``--ref REV`` runs this script and the
server on ``git archive REV lapor`` instead (``--ref d83651b``: the attacked version).

    .venv/bin/python bench/dos.py [--ref HEAD] [--searchers 12] [--items 3,5,6,7,12]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE_VARIABLE = "LAPOR_DOS_CODE"
"""Set in the re-run under ``--ref``: the line that says which code runs."""


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def code_line() -> str:
    """Which code the server runs: HEAD and how many files under lapor/ differ from it."""
    try:
        head = _git("log", "-1", "--format=%h %s").strip()
        dirty = _git("status", "--porcelain", "--", "lapor").splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "code: the working tree (no git)"
    extra = f" + {len(dirty)} uncommitted files under lapor/" if dirty else ""
    return f"code: working tree at {head[:90]}{extra}"


def rerun_from(ref: str) -> int:
    """This script again, with ``lapor`` imported from ``git archive ref`` (server included)."""
    commit = _git("rev-parse", "--short", ref).strip()
    subject = _git("log", "-1", "--format=%s", commit).strip()
    argv, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--ref":
            skip = True
        elif not arg.startswith("--ref="):
            argv.append(arg)
    with tempfile.TemporaryDirectory(prefix="lapor-dos-ref-") as tree:
        archive = subprocess.run(
            ["git", "archive", commit, "lapor"], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [tree, os.environ.get("PYTHONPATH")])),
        }
        env[TREE_VARIABLE] = f"code: {commit} {subject[:90]} (git archive, not the working tree)"
        return subprocess.run([sys.executable, __file__, *argv], env=env).returncode


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--complaints", type=int, default=30_000, help="seeded in the searched tenant")
    parser.add_argument("--searchers", type=int, default=12, help="concurrent searches (item 3)")
    parser.add_argument("--search-seconds", type=float, default=12.0, help="how long the searchers run, s")
    parser.add_argument("--search-timeout", type=float, default=10.0, help="client timeout of a search, s")
    parser.add_argument("--observe", type=float, default=23.0, help="how long slow connections stay up, s")
    parser.add_argument("--items", default="3,5,6,7,12", help="comma-separated subset of 3,5,6,7,12")
    parser.add_argument("--ref", help="run on git archive REV instead of the working tree")
    args = parser.parse_args()
    if args.ref and TREE_VARIABLE not in os.environ:
        return rerun_from(args.ref)
    # Imported here, not at the top: under --ref the parent process must not import the working
    # tree's lapor at all (it may be half-edited by someone else).
    from dos_attacks import run

    asyncio.run(run(args, os.environ.get(TREE_VARIABLE) or code_line()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
