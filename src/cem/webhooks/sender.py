"""One HTTP attempt of a webhook message, signed as the Standard Webhooks specification says.

Signing uses the specification's own `standardwebhooks` package: `webhook-signature: v1,<base64 HMAC-SHA256 of
"{webhook-id}.{webhook-timestamp}.{body}">` under the base64 key after `whsec_`. The attempt succeeds only on a 2xx
that arrives within the timeout (Settings.webhooks_timeout_seconds, 5 s by default). Redirects are never followed
(a 3xx is a failure: the receiver must give its final URL), and the request goes to the address
cem.webhooks.addresses checked.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from cem.webhooks.addresses import AddressRefused, resolve

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
EXCERPT_BYTES = 1024
USER_AGENT = "cem-webhooks/1"

_client: httpx.Client | None = None
_client_lock = threading.Lock()


def new_secret() -> str:
    """A signing secret: `whsec_` + base64 of 32 random bytes (the format Standard Webhooks libraries accept)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code (None when no answer came), an error to show, and the time taken."""

    status_code: int | None
    error: str
    response_ms: int
    excerpt: str = ""

    @property
    def succeeded(self) -> bool:
        return not self.error and self.status_code is not None and 200 <= self.status_code < 300


def signed_headers(secret: str, message_id: str, body: str, at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for `body` sent at `at`."""
    signature = Webhook(secret).sign(msg_id=message_id, timestamp=at, data=body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def client() -> httpx.Client:
    """One pooled client per process (keep-alive to busy receivers); it never follows redirects."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(follow_redirects=False, trust_env=False, limits=httpx.Limits(max_connections=50))
        return _client


def send(url: str, *, secret: str, message_id: str, body: str, timeout: float, allow_private: bool) -> Outcome:
    """POST `body` to `url` once; never raises for what the receiver or the network does."""
    started = time.monotonic()
    try:
        target = resolve(url, allow_private=allow_private)
    except AddressRefused as exc:
        return Outcome(None, f"Refused: {exc}.", 0)
    # The signing time is the wall clock at sending (receivers reject timestamps more than 5 minutes off).
    headers = signed_headers(secret, message_id, body, datetime.now(UTC))
    headers["host"] = target.host_header
    request = client().build_request(
        "POST",
        target.url,
        content=body.encode(),
        headers=headers,
        timeout=httpx.Timeout(timeout),
        extensions={"sni_hostname": target.server_name},
    )
    try:
        response = client().send(request, stream=True)
        try:
            excerpt = _excerpt(response)
        finally:
            response.close()
    except httpx.TimeoutException:
        return Outcome(None, f"No answer within {timeout:g} s (timed out).", _ms(started))
    except httpx.HTTPError as exc:
        return Outcome(None, f"Could not connect: {type(exc).__name__}: {exc}"[:1000], _ms(started))
    elapsed = _ms(started)
    code = response.status_code
    if elapsed > timeout * 1000:
        return Outcome(code, f"Answered after {elapsed / 1000:.1f} s, later than the {timeout:g} s allowed.", elapsed)
    if 300 <= code < 400:
        where = response.headers.get("location", "")[:500]
        return Outcome(
            code, f"Redirected to {where!r}: redirects are not followed; use the final URL.", elapsed, excerpt
        )
    if not 200 <= code < 300:
        return Outcome(code, f"Answered HTTP {code}.", elapsed, excerpt)
    return Outcome(code, "", elapsed, excerpt)


def _excerpt(response: httpx.Response) -> str:
    """The first bytes of the answer (a receiver's error message helps whoever reads the log)."""
    taken = b""
    for chunk in response.iter_bytes():
        taken += chunk
        if len(taken) >= EXCERPT_BYTES:
            break
    return taken[:EXCERPT_BYTES].decode("utf-8", "replace")


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
