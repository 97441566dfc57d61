"""A real server in its own process: gunicorn as `make serve` runs it, on a free loopback port."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from .env import ROOT, Env


class Gunicorn:
    """`gunicorn --workers N --worker-class gthread --threads 4 --bind 127.0.0.1:PORT 'orchestrator.web.app:create_app()'`,
    as `make serve` runs it: threaded workers keep a client's connection alive between requests (sync
    workers close it after each response, so every request paid for a new TCP connection)."""

    def __init__(self, env: Env, workers: int = 1, environment: dict | None = None):
        self.env, self.workers, self.environment = env, workers, environment or {}

    def __enter__(self) -> "Gunicorn":
        import requests

        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        self.log_path = self.env.home / f"gunicorn-{port}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [gunicorn, "--workers", str(self.workers), "--worker-class", "gthread", "--threads", "4",
             "--bind", f"127.0.0.1:{port}", "orchestrator.web.app:create_app()"],
            cwd=ROOT, env={**self.env.server_env(), **self.environment}, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}: {self._tail()}")
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("gunicorn did not answer within 60 s")
            time.sleep(0.2)
        # every worker imports the application by itself: let them all answer before measuring
        for _ in range(self.workers * 4):
            requests.get(self.base + "/healthz", timeout=5)
        return self

    def _tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text()[-1000:]

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
