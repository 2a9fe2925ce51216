"""Changes handled per second vs worker processes, on Dovecot capped at 4 connections per
user+IP, with every process sharing one `RedisBudget`; and Redis round trips per sync round.

Set-up: a loopback Dovecot (``mail_max_userip_connections = 4``), a local redis-server
(broker, token store, chains, budget), 3 accounts × 4 sync chains each (the test app in
``tests/sync/celery_app.py``). For 1, 2 and 4 Celery pool processes (prefork, one worker):
start the chains (rounds back to back: ``interval=0``), deliver ``PER_ACCOUNT`` messages to
every account in waves of one message per account, and time until every chain has handed
every message to the handler (20 ms of handler work per non-empty batch). Then, with
nothing new, count the commands clients send to Redis by name (``MONITOR``, Lua internals
left out, and the test app's own RPUSH recording each round) and Dovecot logins (one per
round) for a few seconds. The server's log is checked for refused logins.

Run: ``python benchmarks/scale_workers.py [per_account]`` (needs root for Dovecot).
"""

from __future__ import annotations

import email.message
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import trustme

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import redis  # noqa: E402
from _redis_commands import round_line, round_report, watch_commands  # noqa: E402
from imap.dovecot import PASSWORD, Dovecot  # noqa: E402
from sync.redis_server import RedisServer  # noqa: E402

from inboxlink.adapters.imap import ImapSettings  # noqa: E402
from inboxlink.adapters.imap.connection import budget_permit  # noqa: E402
from inboxlink.budget import RedisBudget  # noqa: E402

ACCOUNTS, KEYS_PER_ACCOUNT = 3, 4
PER_ACCOUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 30
IDLE_SECONDS = 5.0
REFUSED = "Maximum number of connections from user+IP exceeded"


def message(number: int) -> bytes:
    msg = email.message.EmailMessage()
    msg["From"] = "bob@example.net"
    msg["To"] = "someone@example.com"
    msg["Subject"] = f"m{number}"
    msg["Message-ID"] = f"<celery{number}@example.net>"
    msg.set_content("hello\n")
    return msg.as_bytes()


def run(processes: int, dovecot: Dovecot, ca: str, server: RedisServer) -> dict[str, Any]:
    prefix = f"s{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "INBOXLINK_TEST_REDIS": server.url, "INBOXLINK_TEST_PREFIX": prefix,
           "INBOXLINK_TEST_IMAP_PORT": str(dovecot.imaps_port), "INBOXLINK_TEST_CA": ca,
           "INBOXLINK_TEST_PASSWORD": PASSWORD, "INBOXLINK_TEST_QUEUE": f"q-{prefix}",
           "INBOXLINK_TEST_BUDGET": "1", "PYTHONPATH": str(ROOT),
           # rounds back to back, and 20 ms of handler work per non-empty batch
           "INBOXLINK_TEST_INTERVAL": "0", "INBOXLINK_TEST_PAUSE": "0.02"}
    os.environ.update({k: v for k, v in env.items() if k.startswith("INBOXLINK_TEST_")})
    sys.modules.pop("celery_app", None)
    sys.path.insert(0, str(ROOT / "tests" / "sync"))
    import celery_app

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-P", "prefork",
         "-c", str(processes), "--without-mingle", "--without-gossip", "--without-heartbeat",
         "-l", "ERROR", "-n", f"w-{prefix}@%h"],
        cwd=ROOT / "tests" / "sync", env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    client = redis.Redis.from_url(server.url, decode_responses=True)
    accounts = [dovecot.new_user() for _ in range(ACCOUNTS)]
    keys = [f"{a}#{k}" for a in accounts for k in range(KEYS_PER_ACCOUNT)]
    sync = celery_app.sync
    try:
        first = {key: sync.start(key) for key in keys}
        while not all(sync.current(k) not in (None, first[k]) for k in keys):
            time.sleep(0.05)
        budget = RedisBudget(server.url, prefix=f"{prefix}:budget")
        permits = [budget_permit(ImapSettings(address=a, imap_host="127.0.0.1",
                                              imap_port=dovecot.imaps_port, budget=budget))
                   for a in accounts]
        expected = len(keys) * PER_ACCOUNT
        started = time.monotonic()
        for i in range(PER_ACCOUNT):  # the delivering client also keeps to the budget
            for n, account in enumerate(accounts):
                with permits[n](60):
                    dovecot.deliver(account, message(1000 * n + i))
        while client.llen(f"{prefix}:handled") < expected:
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        log_before = dovecot.log().count("Login: user=")
        seen = watch_commands(client, IDLE_SECONDS)
        rounds = max(1, dovecot.log().count("Login: user=") - log_before)
        seen["rpush"] -= rounds  # the test app recording each round
        return round_report(seen, rounds, IDLE_SECONDS, expected, elapsed)
    finally:
        for key in keys:
            sync.stop(key)  # ends the chains: each round finds it is not current
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="inboxlink-scale-"))
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    chain, key, ca_file = base / "chain.pem", base / "key.pem", base / "ca.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(chain))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    base.chmod(0o755)
    for path in (chain, key, ca_file):
        path.chmod(0o644)
    dovecot = Dovecot(str(chain), str(key), name="scale", fresh_users=20,
                      max_userip_connections=4)
    dovecot.ca_file = str(ca_file)
    server = RedisServer()
    server.start()
    try:
        print(f"{ACCOUNTS} accounts x {KEYS_PER_ACCOUNT} chains, {PER_ACCOUNT} new messages "
              "per account, Dovecot capped at 4 connections per user+IP, RedisBudget")
        for processes in (1, 2, 4):
            r = run(processes, dovecot, str(ca_file), server)
            print(round_line(processes, r))
        print("refused logins:", dovecot.log().count(REFUSED))
    finally:
        server.close()
        dovecot.stop()


if __name__ == "__main__":
    main()
