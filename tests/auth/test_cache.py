"""The token cache files (0600, atomic, per account) and two processes refreshing at once."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inboxlink import auth, errors
from inboxlink.auth.cache import TokenCacheDir, default_cache_dir, read_document, write_document
from inboxlink.auth.targets import target_for

from .conftest import GOOGLE_URL, MS_URL, Browser
from .idp import IdentityProviders


def test_default_directory_is_the_user_config_dir(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    if sys.platform in ("win32", "darwin"):
        pytest.skip("the XDG rule applies to Linux and other POSIX systems")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "inboxlink" / "tokens"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".config" / "inboxlink" / "tokens"


def test_files_are_private_and_replaced_atomically(tmp_path: Path) -> None:
    cache = TokenCacheDir(tmp_path / "tokens")
    tmp_path.joinpath("tokens").mkdir(mode=0o755)
    cache.ensure()
    assert stat.S_IMODE(cache.directory.stat().st_mode) == 0o700   # tightened
    path = cache.directory / "a.json"
    old_umask = os.umask(0)          # even a permissive umask gives 0600
    try:
        write_document(path, {"format": "inboxlink-token-cache", "n": 1})
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    inode = path.stat().st_ino
    write_document(path, {"format": "inboxlink-token-cache", "n": 2})
    assert read_document(path) == {"format": "inboxlink-token-cache", "n": 2}
    assert path.stat().st_ino != inode          # a new file renamed over the old one
    assert sorted(p.name for p in cache.directory.iterdir()) == ["a.json"]


def test_a_damaged_file_is_a_typed_error_that_shows_no_content(tmp_path: Path) -> None:
    path = tmp_path / "microsoft-graph-alice@contoso.com.json"
    path.write_text('{"refresh_token": "rt-secret-value", truncated')
    with pytest.raises(errors.ConfigurationError) as caught:
        auth.open_token_cache(MS_URL, tmp_path).token()
    assert "inboxlink login" in caught.value.remedy
    assert "rt-secret-value" not in str(caught.value)


def test_targets_and_file_names() -> None:
    assert target_for(MS_URL).key == "microsoft-graph-alice@contoso.com"
    assert target_for(GOOGLE_URL).key == "google-gmail-alice@gmail.com"
    imap = target_for("imaps://alice%40contoso.com@outlook.office365.com", "microsoft")
    assert imap.account == "alice@contoso.com"
    assert imap.protocol == "imap"
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in imap.scopes
    ews = target_for("ews://alice@contoso.com", "microsoft")
    assert "https://outlook.office365.com/EWS.AccessAsUser.All" in ews.scopes
    assert target_for("imaps://a:pw@h.example.com", "google").url == "imaps://a@h.example.com"
    for url, provider in [("imaps://alice@mail.example.com", None),
                          ("gmail://alice@gmail.com", "microsoft"),
                          ("ews://alice@gmail.com", "google"),
                          ("fake://alice@example.com", None),
                          ("graph://contoso.com", None)]:
        with pytest.raises(errors.ConfigurationError):
            target_for(url, provider)


def test_logout_removes_only_that_account(idp: IdentityProviders, cache_dir: Path,
                                          browser: Browser) -> None:
    auth.login(MS_URL, client_id=idp.client_id, authority_host=idp.base, ca_file=idp.ca_path,
               cache_dir=cache_dir, prompt=browser, timeout=20)
    other = cache_dir / "microsoft-graph-bob@contoso.com.json"
    write_document(other, {"format": "inboxlink-token-cache"})
    assert auth.logout(MS_URL, cache_dir=cache_dir) is True
    assert auth.logout(MS_URL, cache_dir=cache_dir) is False
    assert sorted(p.name for p in cache_dir.iterdir()) == [other.name]
    with pytest.raises(errors.ReauthorizationRequired):
        auth.open_token_cache(MS_URL, cache_dir).token()


def test_reprs_show_no_tokens(idp: IdentityProviders, cache_dir: Path,
                              browser: Browser) -> None:
    provider = auth.login(MS_URL, client_id=idp.client_id, authority_host=idp.base,
                          ca_file=idp.ca_path, cache_dir=cache_dir, prompt=browser, timeout=20)
    token = provider.token()
    document = json.loads(provider.path.read_text())
    refresh = next(iter(document["msal"]["RefreshToken"].values()))["secret"]
    assert token not in repr(provider)
    assert refresh not in repr(provider)
    assert provider._issued is not None
    assert token not in repr(provider._issued)


_WORKER = """
import json, sys, time
from pathlib import Path
from inboxlink import auth
url, cache, go, rounds = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
provider = auth.open_token_cache(url, cache)
Path(sys.argv[5]).touch()
while not go.exists():
    time.sleep(0.005)
tokens = [provider.token() for _ in range(rounds)]
print(json.dumps({"tokens": tokens, "requests": provider.requests}))
"""


@pytest.mark.parametrize("url", [MS_URL, GOOGLE_URL])
def test_two_processes_refreshing_the_same_cache_at_once(
        idp: IdentityProviders, cache_dir: Path, browser: Browser, tmp_path: Path,
        url: str) -> None:
    # Tokens shorter than the renewal margin: every token() call must renew; Entra's
    # refresh tokens rotate (a redeemed one is revoked), so a process that refreshed from a
    # stale copy of the file would get invalid_grant.
    idp.expires_in = 120
    idp.refresh_delay = 0.02
    if url == GOOGLE_URL:
        idp.user = "alice@gmail.com"
        auth.login(url, client_secrets=idp.google_client_secrets(tmp_path / "cs.json"),
                   ca_file=idp.ca_path, cache_dir=cache_dir, prompt=browser, timeout=20)
    else:
        auth.login(url, client_id=idp.client_id, authority_host=idp.base,
                   ca_file=idp.ca_path, cache_dir=cache_dir, prompt=browser, timeout=20)
    go = tmp_path / "go"
    rounds = 8
    ready = [tmp_path / f"ready-{n}" for n in range(2)]
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, url, str(cache_dir), str(go),
                                 str(rounds), str(flag)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
               for flag in ready]
    # Both imported and waiting, however slow the start, so their refreshes overlap.
    deadline = time.monotonic() + 60
    while not all(flag.exists() for flag in ready):
        assert time.monotonic() < deadline, "a worker did not start"
        if any(worker.poll() is not None for worker in workers):
            break  # died: its stderr is shown below
        time.sleep(0.02)
    go.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=90)
        assert worker.returncode == 0, err
        results.append(json.loads(out))

    tokens = [t for r in results for t in r["tokens"]]
    assert len(tokens) == 2 * rounds
    assert len(set(tokens)) == 2 * rounds
    refreshes = idp.grants("refresh_token")
    assert len(refreshes) == 2 * rounds
    assert sum(r["requests"] for r in results) == 2 * rounds
    if url == MS_URL:
        # Every redemption used a refresh token no one had used before: the lock made each
        # process read the other's rotated token.
        used = [form["refresh_token"] for form in refreshes]
        assert len(set(used)) == len(used)
    path = auth.open_token_cache(url, cache_dir).path
    assert json.loads(path.read_text())["format"] == "inboxlink-token-cache"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]


def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.name != "posix" or os.getuid() != 0:
        pytest.skip("needs root to give the directory to another user")
    import pwd

    directory = tmp_path / "theirs"
    directory.mkdir(mode=0o777)
    os.chown(directory, pwd.getpwnam("nobody").pw_uid, -1)
    with pytest.raises(errors.ConfigurationError, match="another user"):
        TokenCacheDir(directory).ensure()


def test_a_lock_held_too_long_is_a_transient_error(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from filelock import FileLock

    from inboxlink.auth import cache as cache_module

    monkeypatch.setattr(cache_module, "LOCK_TIMEOUT", 0.2)
    cache = TokenCacheDir(tmp_path)
    path = tmp_path / "a.json"
    # Another holder of the lock (another object: flock() locks are per open file).
    with FileLock(str(path) + ".lock"), pytest.raises(errors.TransientError), \
            cache.locked(path):
        pass
