"""TLS facts shared by the adapters and the doctor: why a certificate was refused, whom it names.

Provider-neutral: OpenSSL's verification codes and the certificate dictionaries the
standard `ssl` module returns.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

__all__ = ["VERIFY_REASONS", "certificate_reason", "peer_names"]

#: OpenSSL verification codes → `inboxlink.errors.CertificateError.reason`
VERIFY_REASONS: Mapping[int, str] = {
    62: "name-mismatch",  # X509_V_ERR_HOSTNAME_MISMATCH
    64: "name-mismatch",  # X509_V_ERR_IP_ADDRESS_MISMATCH
    9: "expired",  # X509_V_ERR_CERT_NOT_YET_VALID
    10: "expired",  # X509_V_ERR_CERT_HAS_EXPIRED
    18: "untrusted",  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    19: "untrusted",  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
    20: "untrusted",  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: "untrusted",  # X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
}


def certificate_reason(exc: ssl.SSLCertVerificationError) -> str:
    """``"name-mismatch"``, ``"untrusted"``, ``"expired"`` or ``"other"``."""
    return VERIFY_REASONS.get(exc.verify_code or 0, "other")


def peer_names(cert: Mapping[str, Any]) -> tuple[str, ...]:
    """DNS names and IP addresses of a ``getpeercert()`` dictionary (its CN when it has none)."""
    names = [str(value) for kind, value in cert.get("subjectAltName", ())
             if kind in ("DNS", "IP Address")]
    if not names:
        names = [str(value) for rdn in cert.get("subject", ()) for kind, value in rdn
                 if kind == "commonName"]
    return tuple(names)
