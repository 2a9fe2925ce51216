"""Real Celery worker processes (and a celery beat) running ``tests/sync/celery_app.py``
against a Dovecot and a redis-server, configured through the environment the app reads;
:meth:`CeleryCluster.supervise` restarts whichever exited, as a deployment's supervisor
(systemd ``Restart=always``) does."""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from .dovecot import PASSWORD, Dovecot

__all__ = ["SYNC_DIR", "CeleryCluster"]

SYNC_DIR = Path(__file__).resolve().parents[1] / "sync"


class CeleryCluster:
    """The test's own prefix and queue, the app imported in the test process (to start
    rounds), and worker processes started by number; :meth:`stop` kills them all."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, dovecot: Dovecot, ca_file: str,
                 redis_url: str, letter: str, **extra_env: str) -> None:
        self.prefix = f"{letter}{uuid.uuid4().hex[:10]}"
        self.env = {
            "INBOXLINK_TEST_REDIS": redis_url, "INBOXLINK_TEST_PREFIX": self.prefix,
            "INBOXLINK_TEST_IMAP_PORT": str(dovecot.imaps_port),
            "INBOXLINK_TEST_CA": ca_file, "INBOXLINK_TEST_PASSWORD": PASSWORD,
            "INBOXLINK_TEST_QUEUE": f"q-{self.prefix}",
            # the worker processes import this checkout's inboxlink, not an installed one
            "PYTHONPATH": os.pathsep.join([str(SYNC_DIR.parents[1]),
                                           os.environ.get("PYTHONPATH", "")]),
            **extra_env,
        }
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.syspath_prepend(str(SYNC_DIR))
        sys.modules.pop("celery_app", None)
        self.sync: Any = importlib.import_module("celery_app").sync
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)
        self.processes: dict[int | str, subprocess.Popen[bytes]] = {}
        self.commands: dict[int | str, list[str]] = {}
        #: names of the processes :meth:`supervise` started again, in order
        self.restarts: list[int | str] = []
        self._state = tempfile.mkdtemp(prefix="inboxlink-beat-")

    def _spawn(self, name: int | str, args: list[str]) -> subprocess.Popen[bytes]:
        self.commands[name] = args
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_app", *args],
            cwd=SYNC_DIR, env={**os.environ, **self.env}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        return self.processes[name]

    def start(self, n: int, concurrency: int) -> subprocess.Popen[bytes]:
        """Start (or replace) worker number ``n`` with ``concurrency`` pool processes."""
        return self._spawn(n, ["worker", "-P", "prefork", "-c", str(concurrency),
                               "--without-mingle", "--without-gossip", "--without-heartbeat",
                               "-l", "WARNING", "-n", f"w{n}-{self.prefix}@%h"])

    def start_beat(self) -> subprocess.Popen[bytes]:
        """Start celery beat (it runs the watchdog that restarts lost chains)."""
        return self._spawn("beat", ["beat", "-l", "WARNING", "-s",
                                    os.path.join(self._state, "schedule"),
                                    "--pidfile", os.path.join(self._state, "beat.pid")])

    def supervise(self) -> None:
        """Start again every process that exited (what systemd's ``Restart=always`` does)."""
        for name, process in list(self.processes.items()):
            if process.poll() is not None:
                self.restarts.append(name)
                self._spawn(name, self.commands[name])

    def stop(self) -> None:
        """Kill every worker process group, and forget the imported app."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        sys.modules.pop("celery_app", None)
        shutil.rmtree(self._state, ignore_errors=True)
