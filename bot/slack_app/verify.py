"""Slack's request signature, checked at the front door before Bolt sees a request.

Bolt checks it too, but inside its dispatch: there, an exception raised by the
check (a timestamp ``abc`` or of 5,000 digits, a non-ASCII signature) reaches the
app's error handler with the unverified body, and that handler answers the
body's ``response_url``, wherever it points. Here any exception counts as a
failed check, and a request that fails goes nowhere.

The rules are Bolt's, through slack_sdk's :class:`SignatureVerifier`: the
signature is ``v0=`` and the HMAC-SHA256, under the signing secret, of
``v0:{timestamp}:{body}``, and the timestamp is within 5 minutes of now. Two
stricter ones: exactly one header of each kind (Bolt reads the last of repeated
headers, aiohttp the first), and a timestamp of ASCII digits only (``int()``
would also take spaces, underscores and other scripts' digits).
"""

from __future__ import annotations

from multidict import CIMultiDictProxy
from slack_sdk.signature import SignatureVerifier

TIMESTAMP = "X-Slack-Request-Timestamp"
SIGNATURE = "X-Slack-Signature"


class SlackSignature:
    """Checks requests against one app's signing secret."""

    def __init__(self, signing_secret: str) -> None:
        self._verifier = SignatureVerifier(signing_secret)

    def verifies(self, body: bytes, headers: CIMultiDictProxy[str]) -> bool:
        """Whether Slack signed ``body`` with these headers, less than 5 minutes ago."""
        timestamps, signatures = headers.getall(TIMESTAMP, []), headers.getall(SIGNATURE, [])
        if len(timestamps) != 1 or len(signatures) != 1:
            return False
        timestamp = timestamps[0]
        if not (timestamp.isascii() and timestamp.isdigit()):
            return False
        try:
            return self._verifier.is_valid(body, timestamp, signatures[0])
        except Exception:  # noqa: BLE001 - ValueError, TypeError, UnicodeDecodeError…: unverified
            return False
