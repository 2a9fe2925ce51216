"""A real Dovecot started from its own configuration in a temporary directory.

Runs as root with its own ``base_dir`` (so it never touches a system Dovecot), mail owned
by the unprivileged ``mail`` user, certificates from trustme and users in a passwd-file
that Dovecot re-reads whenever it changes (so every test can have a fresh, empty account).
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["BASIC_CAPABILITIES", "PASSWORD", "Dovecot", "ensure_dovecot", "free_port",
           "kick"]

#: the password of every account
PASSWORD = "secret-pw"

#: Dovecot 2.3's post-login capabilities minus CONDSTORE, QRESYNC, MOVE and IDLE
BASIC_CAPABILITIES = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 ESEARCH ESORT SEARCHRES WITHIN "
    "CONTEXT=SEARCH LIST-STATUS BINARY SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE "
    "SAVEDATE LITERAL+ SPECIAL-USE"
)

_SPECIAL_USE_NAMESPACE = r"""
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \Archive
    auto = subscribe
  }
}
"""

_PLAIN_NAMESPACE = """
namespace inbox {
  inbox = yes
  separator = %s
}
"""


#: other users' mailboxes under "Other Users/<user>/" (RFC 2342 "other users" namespace) and
#: a "Public/" tree (the "shared" namespace); the ACL plugin lets an owner share a folder,
#: and the shared dictionary lets LIST find whose folders are shared with whom
_SHARED_NAMESPACES = """
namespace users {
  type = shared
  separator = /
  prefix = Other Users/%%%%u/
  location = maildir:%(mail)s/%%%%u
  subscriptions = no
  list = children
}
namespace public {
  type = public
  separator = /
  prefix = Public/
  location = maildir:%(public)s
  subscriptions = no
  list = children
}
mail_plugins = $mail_plugins acl
protocol imap {
  mail_plugins = $mail_plugins imap_acl
}
plugin {
  acl = vfile
  acl_shared_dict = file:%(shared)s/shared-mailboxes.db
  acl_anyone = allow
}
"""


def ensure_dovecot() -> str:
    """The dovecot binary; installs Debian's dovecot-imapd when it is missing (CI is fresh)."""
    found = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                    "dovecot-imapd"], check=True, env=env, stdout=subprocess.DEVNULL)
    # The package starts the system service; we only need the binary.
    subprocess.run(["sh", "-c", "service dovecot stop || true"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DovecotProcess:
    """The life of every test Dovecot: start from its own ``dovecot.conf`` and wait for its
    port, stop by the pid in its own base_dir, kick sessions, read its log. Subclasses set
    ``binary``, ``dir``, ``conf`` and `listen_port`."""

    binary: str
    dir: Path
    conf: Path

    @property
    def listen_port(self) -> int:
        """The port that answers once the server is up."""
        raise NotImplementedError

    def _start(self) -> None:
        pid_file = self.dir / "run" / "master.pid"
        if pid_file.exists():
            pid_file.unlink()
        subprocess.run([self.binary, "-c", str(self.conf)], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.listen_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def stop(self) -> None:
        """Stop the instance by the pid in its own base_dir and remove its files."""
        self._kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _kill(self) -> None:
        pid_file = self.dir / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)

    def kick(self, user: str) -> None:
        """Drop every session of ``user`` and wait until they are gone (see `kick`)."""
        kick(self.conf, user)

    def log(self) -> str:
        """The instance's log so far (for failure messages)."""
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Dovecot(DovecotProcess):
    """One Dovecot instance.

    Args:
        cert_pem / key_pem: the server certificate chain and key (PEM files).
        special_use: declare Sent/Drafts/Trash/Junk with RFC 6154 attributes.
        ssl: ``False`` runs without TLS at all, so STARTTLS is not offered.
        separator: hierarchy delimiter of the namespace.
        users: special accounts, name → passwd-file extra fields (``nologin reason=...``).
        fresh_users: how many empty accounts :meth:`new_user` can hand out.
        capabilities: replaces the post-login CAPABILITY list (``imap_capability``), to
            play a server without some extension (CONDSTORE, QRESYNC, MOVE, IDLE …).
        shared: add an "Other Users/<user>/" namespace (folders other accounts shared with
            ``share``) and a "Public/" one (``public_folder``), RFC 2342's other-users and
            shared namespaces.
        max_userip_connections: ``mail_max_userip_connections`` (Dovecot's default: 10);
            the server refuses a login beyond it, logging "Maximum number of connections
            from user+IP exceeded".
        extra_config: more dovecot.conf lines (a plugin's settings, e.g. the quota plugin's
            ``quota_max_mail_size``).
    """

    def __init__(self, cert_pem: str, key_pem: str, *, special_use: bool = True,
                 ssl: bool = True, separator: str = "/", name: str = "main",
                 users: dict[str, str] | None = None, fresh_users: int = 200,
                 capabilities: str | None = None,
                 max_userip_connections: int | None = None, shared: bool = False,
                 extra_config: str = "") -> None:
        self.binary = ensure_dovecot()
        self.dir = Path(tempfile.mkdtemp(prefix=f"inboxlink-dovecot-{name}-"))
        os.chmod(self.dir, 0o755)
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.cert_pem = cert_pem
        self.key_pem = key_pem
        self.ssl = ssl
        self.passwd = self.dir / "passwd"
        self._users: dict[str, str] = {}
        self._lock = threading.Lock()
        mail = self.dir / "mail"
        mail.mkdir()
        uid = pwd.getpwnam("mail")
        os.chown(mail, uid.pw_uid, uid.pw_gid)
        (self.dir / "run").mkdir()
        (self.dir / "state").mkdir()
        self._write_users(dict(users or {}), fresh_users)
        namespace = _SPECIAL_USE_NAMESPACE if special_use else _PLAIN_NAMESPACE % separator
        if shared:
            self.public = self.dir / "public"
            for made in (self.public, self.dir / "shared"):
                made.mkdir()
                os.chown(made, uid.pw_uid, uid.pw_gid)
            namespace += _SHARED_NAMESPACES % {"mail": mail, "public": self.public,
                                               "shared": self.dir / "shared"}
        ssl_lines = (f"ssl = yes\nssl_cert = <{cert_pem}\nssl_key = <{key_pem}\n"
                     "ssl_min_protocol = TLSv1.2\n") if ssl else "ssl = no\n"
        imaps = ("  inet_listener imaps {\n    address = 127.0.0.1\n"
                 f"    port = {self.imaps_port}\n    ssl = yes\n  }}\n") if ssl else ""
        capability_line = f"imap_capability = {capabilities}" if capabilities else ""
        capability_line += f"\n{extra_config}" if extra_config else ""
        if max_userip_connections is not None:
            capability_line += ("\nprotocol imap {\n  mail_max_userip_connections = "
                                f"{max_userip_connections}\n}}\n")
        self.conf = self.dir / "dovecot.conf"
        self.conf.write_text(f"""
base_dir = {self.dir}/run
state_dir = {self.dir}/state
instance_name = inboxlink-{name}-{os.getpid()}-{self.imap_port}
log_path = {self.dir}/dovecot.log
info_log_path = {self.dir}/dovecot.log
listen = 127.0.0.1
protocols = imap
default_internal_user = dovenull
default_login_user = dovenull
first_valid_uid = 1
mail_uid = mail
mail_gid = mail
mail_location = maildir:{self.dir}/mail/%u
auth_mechanisms = plain login xoauth2
auth_failure_delay = 0
auth_verbose = yes
disable_plaintext_auth = {"yes" if ssl else "no"}
{capability_line}
{ssl_lines}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd}
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={self.dir}/mail/%u
}}
{namespace}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
{imaps}}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
        self._start()

    # ------------------------------------------------------------------ process
    @property
    def listen_port(self) -> int:
        """IMAPS when TLS is on, else plain IMAP."""
        return self.imaps_port if self.ssl else self.imap_port

    def restart(self, pause: float = 0.0) -> None:
        """Stop the server (every connection drops), wait ``pause`` seconds, start it again
        on the same ports with the same mail."""
        self._kill()
        time.sleep(pause)
        self._start()

    # ------------------------------------------------------------------ users
    def _write_users(self, special: dict[str, str], fresh: int) -> None:
        # Dovecot re-reads a changed passwd-file at most once a second, so every account
        # the session will need is written before start: fresh ones are handed out later.
        lines = [f"{name}:{{PLAIN}}{PASSWORD}::::::{extra}" for name, extra in special.items()]
        self._fresh = [f"user{n}@example.com" for n in range(1, fresh + 1)]
        lines += [f"{name}:{{PLAIN}}{PASSWORD}::::::" for name in self._fresh]
        self.passwd.write_text("\n".join(lines) + "\n")

    def new_user(self) -> str:
        """A user name whose mailbox has never been used (an empty account)."""
        with self._lock:
            if not self._fresh:
                raise RuntimeError("the pre-created accounts are used up; raise fresh_users")
            return self._fresh.pop(0)

    # ------------------------------------------------------------------ admin access
    def admin(self, user: str, password: str = PASSWORD) -> imaplib.IMAP4:
        """A stdlib imaplib session as ``user`` (for delivering and inspecting, not the adapter)."""
        ctx = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        conn: imaplib.IMAP4
        if self.ssl:
            conn = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=ctx)
        else:
            conn = imaplib.IMAP4("127.0.0.1", self.imap_port)
        conn.login(user, password)
        return conn

    ca_file: str | None = None

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX",
                flags: Iterable[str] = (), password: str = PASSWORD) -> None:
        """Store ``raw`` in ``folder`` of ``user`` through the server (IMAP APPEND)."""
        conn = self.admin(user, password)
        try:
            flag_str = "(" + " ".join(flags) + ")" if flags else None
            typ, data = conn.append(_quote(folder), flag_str, None, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND failed: {data!r}")
        finally:
            conn.logout()

    def public_folder(self, name: str) -> None:
        """Make ``Public/<name>`` (Maildir++ on disk), readable and writable by anyone."""
        uid = pwd.getpwnam("mail")
        root = self.public / f".{name}"
        for part in ("", "cur", "new", "tmp"):
            (root / part).mkdir(exist_ok=True)
            os.chown(root / part, uid.pw_uid, uid.pw_gid)
        acl = root / "dovecot-acl"
        acl.write_text("anyone lrwstipekxa\n")
        os.chown(acl, uid.pw_uid, uid.pw_gid)

    def share(self, owner: str, folder: str, with_user: str) -> None:
        """Let ``with_user`` read ``owner``'s ``folder`` (IMAP SETACL, RFC 4314)."""
        conn = self.admin(owner)
        try:
            typ, data = conn.setacl(_quote(folder), with_user, "lr")
            if typ != "OK":
                raise RuntimeError(f"SETACL {folder} failed: {data!r}")
        finally:
            conn.logout()

    def create_folders(self, user: str, names: Iterable[str],
                       password: str = PASSWORD) -> None:
        """Create folders (names are given already encoded in modified UTF-7)."""
        conn = self.admin(user, password)
        try:
            for folder in names:
                typ, data = conn.create(_quote(folder))
                if typ != "OK":
                    raise RuntimeError(f"CREATE {folder} failed: {data!r}")
        finally:
            conn.logout()


def kick(conf: Path, user: str, timeout: float = 30.0) -> None:
    """Drop every session of ``user`` (a server restart or idle timeout, as the client sees
    it) and return once the processes that served them have exited.

    ``doveadm kick`` only sends SIGTERM and returns: an imap process that the scheduler has
    not run yet still answers the next command, so a test that wants a dropped session
    waits for the process to be gone (its exit closes the connection). The session must be
    listed by ``doveadm who`` first, or the kick would find nobody to drop.
    """
    doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
    deadline = time.monotonic() + timeout
    pids = _session_pids(doveadm, conf, user)
    while not pids:
        if time.monotonic() > deadline:
            raise AssertionError(f"doveadm who never listed a session of {user}")
        time.sleep(0.02)
        pids = _session_pids(doveadm, conf, user)
    subprocess.run([doveadm, "-c", str(conf), "kick", user], check=True, capture_output=True)
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise AssertionError(f"the kicked sessions of {user} (pids {pids}) did not exit")
        time.sleep(0.02)


def _session_pids(doveadm: str, conf: Path, user: str) -> list[int]:
    # ``who -1``: a header, then one "user proto pid ip" line per connection.
    listed = subprocess.run([doveadm, "-c", str(conf), "who", "-1", user], check=True,
                            capture_output=True, text=True).stdout.splitlines()[1:]
    return [int(line.split()[2]) for line in listed if line.split()[:1] == [user]]


def _alive(pid: int) -> bool:
    # The daemonized master is re-parented to PID 1, which may not reap it in a container:
    # a zombie counts as stopped.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # gone, or exiting while /proc was read (ESRCH)
        return False


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
