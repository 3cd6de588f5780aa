"""What a user is told when a command fails: the one mapping every platform adapter calls.

Each adapter has one error handler (Slack's ``SlackListeners.error``, the console
loop, Discord's ``on_error``); it asks this module what to say and whether to log
a traceback, and only decides how to deliver the sentence.
"""

from __future__ import annotations

from core.errors import BotError
from core.messages import text


def user_message(error: BaseException, locale: str = "en") -> str:
    """The sentence for the person whose command failed with ``error``, in ``locale``.

    Our own errors say what went wrong; anything else is a bug, and its text (which may
    hold internals) is never shown: the user gets a short apology instead.
    """
    if isinstance(error, BotError):
        return error.message(locale)
    return text("internal_error", locale)


def unexpected(error: BaseException) -> bool:
    """Whether ``error`` is a bug, to be logged as an error with its traceback.

    A :class:`BotError` is an expected failure the user has been told about: a line
    at info level is enough.
    """
    return not isinstance(error, BotError)
