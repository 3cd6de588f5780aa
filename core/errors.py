"""The bot's own error types.

Every failure a user can see is one of these; vendor errors (openai, sqlite,
redis) are converted where they enter with ``raise ... from exc``. Each adapter
turns them into a chat message in exactly one place.

    BotError                 base; ``user_message`` is safe to show in a chat
    ├── UserInputError       bad command text: answered privately with usage
    ├── QuotaExceeded        the user has used up an allowance
    ├── ContentBlocked       refused by the model provider's safety system
    ├── NotConfigured        a feature needs a setting that is missing
    └── UpstreamError        the model provider failed
        ├── RateLimited      the provider asked us to slow down
        └── Unavailable      timeout, connection failure or server error
"""

from __future__ import annotations


class BotError(Exception):
    """A failure with a message fit for a chat user."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class UserInputError(BotError):
    """The command text cannot be used; the message explains the usage."""


class QuotaExceeded(BotError):
    """The user has reached a limit for now."""


class ContentBlocked(BotError):
    """The provider's safety system refused the prompt."""


class NotConfigured(BotError):
    """A feature needs a setting the operator has not provided."""


class UpstreamError(BotError):
    """The model provider failed in a way the user cannot fix."""


class RateLimited(UpstreamError):
    """The provider is rate limiting us."""


class Unavailable(UpstreamError):
    """The provider timed out, was unreachable, or answered with a server error."""
