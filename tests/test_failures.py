"""The one mapping from a failed command to what its user is told (handlers/failures.py)."""

from __future__ import annotations

import pytest

from core import errors
from core.messages import text
from handlers.failures import unexpected, user_message


@pytest.mark.parametrize(
    "error",
    [
        errors.UserInputError("usage_ask"),
        errors.UserInputError("too_long", length=5000, limit=4000),
        errors.ContentBlocked("content_blocked"),
        errors.NotConfigured("no_openai_key"),
        errors.UpstreamError("ai_failed", detail="error 400"),
        errors.RateLimited("slack_busy"),
        errors.Unavailable("store_unavailable"),
    ],
    ids=lambda error: f"{type(error).__name__}-{error.key}",
)
def test_our_error_is_told_as_its_own_sentence_and_is_expected(error: errors.BotError) -> None:
    assert user_message(error, "en") == text(error.key, "en", **error.params)
    assert not unexpected(error)


def test_the_values_are_filled_in() -> None:
    told = user_message(errors.UserInputError("too_long", length=5000, limit=4000), "en")
    assert told == "That is too long (5,000 characters); the limit is 4,000."


@pytest.mark.parametrize(
    "error", [RuntimeError("secret internals /etc/passwd"), KeyError("token"), ValueError(), TimeoutError()]
)
def test_anything_else_is_a_short_apology_that_shows_nothing_of_the_error(error: Exception) -> None:
    told = user_message(error, "en")
    assert told == text("internal_error")
    assert unexpected(error)


def test_the_locale_is_applied_with_english_as_the_fallback() -> None:
    for locale in ("en", "en-GB", "ja", "xx"):
        assert user_message(errors.UserInputError("no_game"), locale) == text("no_game", locale)
        assert user_message(RuntimeError(), locale) == text("internal_error", locale)


def test_the_default_locale_is_english() -> None:
    assert user_message(errors.UserInputError("no_game")) == text("no_game", "en")
