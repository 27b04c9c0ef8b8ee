"""Fresh-machine check: build the wheel, install it into a brand-new virtual environment, run
`lapor serve --demo` on a free port with the embedded PostgreSQL (no LAPOR_DATABASE_URL, no Redis),
wait for /readyz, ask two demo hosts who they are, submit and track one complaint, stop.

Standard library only, so it runs before anything is installed. Usage: python3 .ci/fresh_machine.py
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, **kwargs: object) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, check=True, **kwargs)  # type: ignore[call-overload]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(port: int, host: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"content-type": "application/json", "host": host},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    if body.get("errors"):
        raise SystemExit(f"GraphQL errors on {host}: {body['errors']}")
    return body["data"]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="lapor-fresh-"))
    dist = work / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(ROOT), "-q")
    wheel = next(dist.glob("lapor-*.whl"))
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    run(str(python), "-m", "pip", "install", "-q", str(wheel))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env["LAPOR_DATA_DIR"] = str(work / "data")
    log = (work / "serve.log").open("w")
    server = subprocess.Popen(
        [str(env_dir / "bin" / "lapor"), "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=work,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                output = (work / "serve.log").read_text()
                raise SystemExit("lapor serve --demo did not become ready:\n" + output)
            time.sleep(1)
        for slug, kind in (("ttu", "REGENCY"), ("kupang-kota", "CITY")):
            tenant = post(port, f"{slug}.localhost", "{ tenant { slug kind parent { slug } } }")["tenant"]
            assert tenant == {"slug": slug, "kind": kind, "parent": {"slug": "ntt"}}, tenant
        sent = post(
            port,
            "ttu.localhost",
            "mutation($i: SubmitComplaintInput!) { submitComplaint(input: $i) "
            "{ trackingId accessCode errors { code message } } }",
            {
                "i": {
                    "title": "Cek mesin baru",
                    "body": "Pengaduan uji dari pemeriksaan mesin baru.",
                    "categoryCode": "LAINNYA",
                }
            },
        )["submitComplaint"]
        assert not sent["errors"], sent
        tracked = post(
            port,
            "ttu.localhost",
            "query($t: String!, $c: String!) { trackComplaint(trackingId: $t, accessCode: $c) { status } }",
            {"t": sent["trackingId"], "c": sent["accessCode"]},
        )["trackComplaint"]
        assert tracked == {"status": "SUBMITTED"}, tracked
        print(f"fresh machine: OK ({sent['trackingId']} submitted and tracked on a new install)")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


if __name__ == "__main__":
    main()
