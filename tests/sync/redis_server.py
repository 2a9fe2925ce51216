"""A real redis-server on loopback for the tests (installed from Debian when missing)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["RedisServer", "ensure_redis_server"]


def ensure_redis_server() -> str:
    """The path of redis-server, installing Debian's package first when it is missing."""
    found = shutil.which("redis-server")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True,
                   capture_output=True, env={"DEBIAN_FRONTEND": "noninteractive",
                                             "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("redis-server is not installed and could not be installed")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process with its own port and directory; restartable."""

    def __init__(self) -> None:
        self.binary = ensure_redis_server()
        self.dir = Path(tempfile.mkdtemp(prefix="inboxlink-redis-"))
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.dir), "--save", "", "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart(self, pause: float = 0.5) -> None:
        """Shut down saving the data set (as a planned restart of a persistent Redis does),
        stay down ``pause`` seconds, start again on the same port with the same data."""
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        with contextlib.suppress(redis.ConnectionError):  # closed by the server as it goes
            client.shutdown(save=True)
        if self.process is not None:
            self.process.wait(10)
            self.process = None
        time.sleep(pause)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
