"""A stand-in for Google's token signer: OIDC tokens like those Pub/Sub push requests carry,
signed with a key whose certificate the emulator serves at ``oauth2/v1/certs``."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from .emulator import GmailEmulator


class TokenSigner:
    """Mints RS256 ID tokens; :meth:`publish` makes the emulator serve the certificate."""

    def __init__(self, key_id: str = "test-key-1") -> None:
        self.key_id = key_id
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pubsub-test")])
        now = dt.datetime.now(dt.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self._key, hashes.SHA256())
        ).public_bytes(serialization.Encoding.PEM).decode()
        pem = self._key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
        self._signer = crypt.RSASigner.from_string(pem, key_id=key_id)

    def publish(self, emulator: GmailEmulator) -> None:
        emulator.certs[self.key_id] = self.certificate

    def token(self, audience: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": "https://accounts.google.com", "aud": audience, "iat": now,
                   "exp": now + 3600, "sub": "1234567890",
                   "email": "push@acme.iam.gserviceaccount.com", "email_verified": True}
        payload.update(claims)
        return jwt.encode(self._signer, payload, key_id=self.key_id).decode()
