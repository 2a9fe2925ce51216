"""A real Dovecot that accepts only OAuth (XOAUTH2 / OAUTHBEARER), checking every token
against the local identity provider's RFC 7662 introspection endpoint over TLS.

Dovecot's ``oauth2`` passdb posts the bearer token to ``introspection_url``; an
``{"active": false}`` answer fails the AUTHENTICATE, so a token that expired at the
identity provider is refused on the next login, exactly like Microsoft 365 or Gmail.
Started like ``tests/imap/dovecot.py`` (own base_dir, trustme certificate, mail owned by
the ``mail`` user), with its own minimal configuration.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import trustme
from imap.dovecot import DovecotProcess, free_port


class OAuthDovecot(DovecotProcess):
    """Dovecot on 127.0.0.1 (implicit TLS) with the oauth2 passdb only."""

    def __init__(self, idp_base: str, idp_ca: str) -> None:
        self.binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        self.dir = Path(tempfile.mkdtemp(prefix="inboxlink-dovecot-oauth-"))
        os.chmod(self.dir, 0o755)
        ca = trustme.CA()
        self.ca_path = str(self.dir / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert_path, key_path = self.dir / "cert.pem", self.dir / "key.pem"
        cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
        cert.private_key_pem.write_to_path(str(key_path))
        # Dovecot's auth process (not root) reads the IdP's CA.
        shutil.copy(idp_ca, self.dir / "idp-ca.pem")
        os.chmod(self.dir / "idp-ca.pem", 0o644)
        mail = self.dir / "mail"
        mail.mkdir()
        uid = pwd.getpwnam("mail")
        os.chown(mail, uid.pw_uid, uid.pw_gid)
        (self.dir / "run").mkdir()
        (self.dir / "state").mkdir()
        self.port = free_port()
        oauth2 = self.dir / "dovecot-oauth2.conf.ext"
        oauth2.write_text(f"""
introspection_mode = post
introspection_url = {idp_base}/introspect
tls_ca_cert_file = {self.dir}/idp-ca.pem
username_attribute = email
active_attribute = active
active_value = true
force_introspection = yes
""")
        self.conf = self.dir / "dovecot.conf"
        self.conf.write_text(f"""
base_dir = {self.dir}/run
state_dir = {self.dir}/state
instance_name = inboxlink-oauth-{os.getpid()}-{self.port}
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
auth_mechanisms = xoauth2 oauthbearer
auth_failure_delay = 0
auth_verbose = yes
auth_cache_size = 0
ssl = yes
ssl_cert = <{cert_path}
ssl_key = <{key_path}
ssl_min_protocol = TLSv1.2
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {oauth2}
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={self.dir}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.port}
    ssl = yes
  }}
}}
# No growing delay after refused logins (anvil's auth penalty): the tests refuse on purpose.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
        self._start()

    @property
    def listen_port(self) -> int:
        """The implicit-TLS IMAP port."""
        return self.port
