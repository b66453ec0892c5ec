"""How a webhook proves it comes from the source's owner: a shared secret header, or an HMAC signature.

Two ways are accepted on `POST /api/v1/hooks/{workspace_slug}/{source_key}`:

* `X-CEM-Secret: <secret>`: we compare SHA-256 digests in constant time, like API tokens. Only the
  digest is needed, so this works even if the encrypted copy below is lost.
* `X-CEM-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`: the secret never travels, and a captured
  request cannot be replayed with a different body. Verifying needs the raw secret, so we also keep it
  encrypted (Fernet: AES-128-CBC + HMAC-SHA256, from the well-kept `cryptography` package) under a key
  derived with HKDF-SHA256 from `settings.secret_key`. A database dump alone therefore reveals no usable
  secret. Changing CEM_SECRET_KEY makes those copies unreadable: header secrets keep working, signatures
  are refused with a message asking to rotate the source's secret.

If both headers are sent, the secret header decides. Signatures carry no timestamp: replaying a captured
delivery only re-stores the same records, which is harmless because deliveries are idempotent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cem.auth.security import digest
from cem.errors import Unauthorized

SECRET_HEADER = "x-cem-secret"
SIGNATURE_HEADER = "x-cem-signature"
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
_HKDF_INFO = b"cem inbound source secrets v1"


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(secret: str, *, secret_key: str) -> str:
    """The source secret encrypted under the app's secret key (a Fernet token)."""
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def decrypt_secret(token: str, *, secret_key: str) -> str | None:
    """The raw source secret, or None when it cannot be decrypted (e.g. CEM_SECRET_KEY changed)."""
    if not token:
        return None
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def sign(secret: str, body: bytes) -> str:
    """The `X-CEM-Signature` header value a sender computes for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_secret_header(sent: str, *, secret_hash: str) -> None:
    """Accept the header secret only if its digest matches (constant-time compare)."""
    if not hmac.compare_digest(digest(sent.strip()).encode(), secret_hash.encode()):
        raise Unauthorized("The X-CEM-Secret header does not match this source's secret.")


def check_signature(sent: str, *, body: bytes, encrypted_secret: str, secret_key: str) -> None:
    """Accept the body only if its HMAC-SHA256 under the source secret matches the header."""
    match = _SIGNATURE.match(sent.strip())
    if match is None:
        raise Unauthorized("X-CEM-Signature must look like 'sha256=<64 hex digits of HMAC-SHA256(secret, body)>'.")
    secret = decrypt_secret(encrypted_secret, secret_key=secret_key)
    if secret is None:
        raise Unauthorized(
            "This source's secret cannot be used for signatures any more (the server key changed); "
            "rotate the source secret, or send it in X-CEM-Secret."
        )
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match.group(1).lower()):
        raise Unauthorized("The X-CEM-Signature does not match the body signed with this source's secret.")
