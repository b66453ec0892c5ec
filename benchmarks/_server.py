"""Helpers shared by the benchmarks: a throwaway cem instance on loopback (own data dir, own port)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Instance:
    """A cem data directory with a workspace and an admin token; can start and kill its server."""

    data_dir: Path
    database_url: str = ""
    workspace: str = "bench"
    port: int = field(default_factory=free_port)
    token: str = ""
    server: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, "CEM_DATA_DIR": str(self.data_dir), "CEM_ENV": "dev", "CEM_IN_PROCESS_WORKER": "false"}
        if self.database_url:
            env["CEM_DATABASE_URL"] = self.database_url
        return env

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cem(self, *args: str) -> str:
        """Run a `cem` command against this instance and return its stdout."""
        done = subprocess.run([str(BIN / "cem"), *args], env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"cem {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cem("db", "upgrade")
        self.cem(
            "user",
            "create",
            "--email",
            "bench@example.com",
            "--workspace",
            self.workspace,
            "--role",
            "admin",
            "--password",
            "benchmark-password",
        )
        self.token = self.cem(
            "user", "token", "--name", "bench", "--workspace", self.workspace, "--role", "admin"
        ).strip()

    def start(self, workers: int = 1) -> None:
        self.server = subprocess.Popen(
            [str(BIN / "cem"), "serve", "--port", str(self.port), "--workers", str(workers)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start within 60 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing; what was committed must survive."""
        if self.server is not None:
            self.server.kill()
            self.server.wait()
            self.server = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)
            self.server = None


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
