"""The bot's own error types.

Every failure a user can see is one of these; vendor errors (openai, sqlite,
redis) are converted where they enter with ``raise ... from exc``. An error
carries a message key from :mod:`core.messages` and its values, not rendered
text, so the user's locale is applied where it is shown:
:func:`handlers.failures.user_message`, which every adapter calls in its one
error handler.

    BotError(key, **params)  base; ``message(locale)`` is safe to show in a chat
    ├── UserInputError       bad command text: answered privately with usage
    ├── QuotaExceeded        the user has used up an allowance
    ├── NotPermitted         the command is not allowed in this channel or for this user
    ├── ContentBlocked       refused by the model provider's safety system
    ├── NotConfigured        a feature needs a setting that is missing
    └── UpstreamError        the model provider failed
        ├── RateLimited      the provider asked us to slow down
        └── Unavailable      timeout, connection failure or server error
"""

from __future__ import annotations

import functools

from core.messages import placeholders, text


class BotError(Exception):
    """A failure with a message fit for a chat user: a catalogue key and the values it needs.

    The key and values are checked against the catalogue here, so a raise naming an
    unknown sentence fails where it is written (and in tests), not when a user is told.
    """

    def __init__(self, key: str, **params: object) -> None:
        missing = placeholders(key) - params.keys()
        if missing:
            raise TypeError(f"message {key!r} needs {', '.join(sorted(missing))}")
        super().__init__(key)
        self.key = key
        self.params = params

    def message(self, locale: str = "en") -> str:
        """The sentence to show the user, in ``locale``."""
        return text(self.key, locale, **self.params)

    def __str__(self) -> str:
        return self.message()

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled and copied with its values (the default would call ``type(self)(key)`` alone)."""
        return functools.partial(type(self), self.key, **self.params), (), self.__dict__


class UserInputError(BotError):
    """The command text cannot be used; the message explains the usage."""


class QuotaExceeded(BotError):
    """The user has reached a limit for now."""


class NotPermitted(BotError):
    """The command came from a channel, or a user, outside the operator's allowlists.

    Expected, not a bug: the user is told privately and nothing else happens.
    """


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
