"""The one body signature of gridgov's HTTP doors: inbound intake checks it, webhooks and HTTP pushes send it.

`X-Gridgov-Signature: sha256=<hex HMAC-SHA256 of the raw body under the shared secret>`.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Gridgov-Signature"
SIGNATURE_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body` under `secret`."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` under `secret`, compared in constant time."""
    return hmac.compare_digest(sign(secret, body), (header or "").strip())
