"""Store URLs in error and log lines: every shape of credential is masked, and nothing else."""

from __future__ import annotations

import logging
import traceback

import pytest

from core.errors import Unavailable
from core.store import open_store
from core.store.factory import OpenFailure
from core.store.redaction import redacted, scrubbed

SECRET = "hunter2"
URLS = [
    "redis://:hunter2@db:6379/0",
    "redis://admin:hunter2@db:6379/0",
    "redis://hunter2@db",
    "rediss://u:hunt%65r2@db/0",
    "redis://u:hunter2@with@at@db/0",
    "redis://db:6379/0?password=hunter2",
    "redis://db/0?db=1&token=hunter2&ssl_cert_reqs=none",
    "redis://db/0?hunter2",
    "redis://db/0#hunter2",
    "sqlite:////srv/db?token=hunter2/bot.db",
]


@pytest.mark.parametrize("url", URLS)
def test_redacted_urls_keep_no_secret(url: str) -> None:
    shown = redacted(url)
    assert SECRET not in shown and "hunt%65r2" not in shown and "***" in shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@db:6379/0", "redis://***@db:6379/0"),
        ("redis://db/0?db=1&password=pw", "redis://db/0?db=1&password=***"),
        ("sqlite:////var/lib/bot.db", "sqlite:////var/lib/bot.db"),
        ("memory://", "memory://"),
        ("localhost:8000", "localhost:8000"),
    ],
)
def test_redacted_keeps_what_is_not_secret(url: str, shown: str) -> None:
    assert redacted(url) == shown


@pytest.mark.parametrize("url", URLS)
def test_scrubbed_masks_the_secret_however_a_driver_quotes_it(url: str) -> None:
    decoded = url.replace("%65", "e")
    for message in (
        f"Error connecting to {url}: refused",
        f"Error connecting to {decoded}: refused",
        "[Errno 2] No such file or directory: '/srv/db?token=hunter2'",
    ):
        assert SECRET not in scrubbed(message, url)
    assert scrubbed("Connection refused (db:6379)", url) == "Connection refused (db:6379)"


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("redis://:hunter2@db", "hunter2"),
        ("rediss://u:hunt%65r2@db/0", "hunter2"),
        ("redis://:p%40ss@db", "p@ss"),
        ("redis://u:a@b@db", "a@b"),
        ("redis://db/0?token=a+b%21", "a b!"),
    ],
)
def test_scrubbed_masks_a_password_quoted_alone_raw_or_decoded(url: str, password: str) -> None:
    assert scrubbed(f"AUTH failed for password {password!r}", url) == "AUTH failed for password '***'"


def test_scrubbing_hostile_text_keeps_it_whole() -> None:
    text = "a" * 200_000 + "?a" * 200_000 + "&" * 200_000 + "abc://" * 50_000
    assert len(scrubbed(text, "redis://:pw@db")) >= 400_000  # linear work: a quadratic scrub would not finish


@pytest.mark.parametrize(
    "url", ["sqlite:////proc/self/db?token=hunter2/bot.db", "sqlite:////proc/self/u:hunter2@x/bot.db"]
)
async def test_a_store_that_cannot_open_says_why_without_the_secret(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(Unavailable) as caught:
        await open_store(url)
    cause = caught.value.__cause__
    assert isinstance(cause, OpenFailure) and "No such file" in str(cause)
    logging.getLogger("test").error("store failed", exc_info=caught.value)
    shown = "".join(traceback.format_exception(caught.value)) + caplog.text
    assert "No such file" in shown and SECRET not in shown
