"""``lapor serve`` in a subprocess: the real uvicorn with the limits ``serve`` gives it (protocol,
proxy trust, header and keep-alive limits), for tests that speak HTTP over real sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import BASE_DOMAIN, _free_port

ROOT = Path(__file__).resolve().parent.parent


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The test session's database; no ``LAPOR_SECRET_KEY`` or ``LAPOR_DATA_DIR``, so the server
    opens the signing keys with the key file the in-process apps of the session use."""
    env = {
        **os.environ,
        "LAPOR_DATABASE_URL": database_url,
        "LAPOR_BASE_DOMAIN": BASE_DOMAIN,
        "LAPOR_LOG_LEVEL": "WARNING",
        "LAPOR_REDIS_URL": "",
        "LAPOR_MIGRATE_WORKERS": "2",
    }
    for inherited in ("FORWARDED_ALLOW_IPS", "LAPOR_SECRET_KEY", "LAPOR_DATA_DIR", "LAPOR_TRUSTED_PROXIES"):
        env.pop(inherited, None)
    env.update(extra)
    return env


class Served:
    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lapor.cli.main", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=dict(env),
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"lapor serve exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            return httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self, chars: int = 4000) -> str:
        self._log.flush()
        return self.log_path.read_text()[-chars:]

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


@contextmanager
def lapor_serve(env: Mapping[str, str], log_path: Path) -> Iterator[Served]:
    server = Served(env, log_path)
    try:
        deadline = time.monotonic() + 90
        while not server.ready():
            if time.monotonic() > deadline:
                raise AssertionError(f"lapor serve not ready in 90 s:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server
    finally:
        server.stop()


def read_response(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """Everything the server sends within ``timeout`` s, and whether it closed the connection."""
    sock.settimeout(0.2)
    received = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False
