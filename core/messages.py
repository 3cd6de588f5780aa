"""Every sentence the bot says to users, by key, so it can be translated.

``text(key, locale, **values)`` formats one; English now, other locales later.
``placeholders(key)`` names the values a sentence needs, so an error can check its key when made.
"""

from __future__ import annotations

import functools
import string

_EN = {
    # usage
    "usage_help": (
        "Commands:\n"
        "  /ask <question>  ask the AI; replies in the same conversation keep its context\n"
        "  /draw [--size square|landscape|portrait] [--quality low|medium|high] <prompt>\n"
        "  /janken [rock|paper|scissors|stats|quit|<character description>]"
    ),
    "usage_ask": "Usage: /ask <question>",
    "usage_draw": (
        "Usage: /draw [--size square|landscape|portrait|1024x1024|1536x1024|1024x1536] "
        "[--quality low|medium|high] <prompt>"
    ),
    "usage_janken": (
        "Usage: /janken [rock|paper|scissors] | /janken stats | /janken quit | "
        "/janken <character description, two words or more>"
    ),
    "unknown_command": "I don't know {command}. Try /help.",
    "too_long": "That is too long ({length:,} characters); the limit is {limit:,}.",
    "bad_size": "Unknown size {value!r}. Use square, landscape, portrait, 1024x1024, 1536x1024 or 1024x1536.",
    "bad_quality": "Unknown quality {value!r}. Use low, medium or high.",
    "unknown_janken": (
        "{word!r} is not a move or a janken command. Usage: /janken [rock|paper|scissors] | "
        "/janken stats | /janken quit | /janken <character description, two words or more>"
    ),
    # AI failures
    "no_openai_key": "AI answers are off: the operator has not set OPENAI_API_KEY.",
    "content_blocked": "OpenAI's safety system refused that request. Try rewording it.",
    "rate_limited": "OpenAI is rate limiting the bot right now. Please try again in a minute.",
    "ai_unavailable": "OpenAI did not answer in time or is having trouble. Please try again shortly.",
    "no_moderation": "The bot's AI server cannot check requests; the operator needs to set MODERATION=off.",
    "ai_auth": "The bot's OpenAI credentials were refused; the operator needs to check OPENAI_API_KEY.",
    "ai_failed": "OpenAI could not handle that request ({detail}).",
    "internal_error": "Sorry, something went wrong on my side. The error has been logged.",
    "slack_failed": "Slack refused the bot's message ({error}).",
    "slack_unreachable": "Slack could not be reached just now. Please try again shortly.",
    "slack_busy": "Slack is too busy to take the bot's messages here right now. Please ask again in a few minutes.",
    "store_unavailable": "The bot's storage is temporarily unavailable. Please try again shortly.",
    # spending limits and where commands run
    "quota_exceeded": (
        "You have used all {limit} of today's {command} requests. "
        "Your quota resets at {resets} UTC (in {hours} h {minutes:02d} min)."
    ),
    "draw_in_flight": "You already have a drawing in progress. Please wait for it to finish.",
    "queued": "The bot is busy: you are number {position} in the queue. Your request starts as soon as it can.",
    "moderation_flagged": (
        "Sorry, I can't help with that request: it goes against the content rules. Please try something else."
    ),
    "not_enabled_here": "The bot's commands are not enabled here.",
    "roles_unavailable": (
        "The bot cannot check who may use it here right now (Slack did not list its user groups). "
        "Please tell the workspace admin."
    ),
    "image_too_large": "The image is too large to upload here ({limit} at most) and could not be made smaller.",
    # progress and captions
    "drawing": "Drawing {prompt}…",
    "drawing_opponent": "Drawing your opponent: {description}…",
    "image_caption": "{prompt}",
    "image_saved": "🖼  {caption}: {path}",
    "progress": "⏳ {message}",
    "answer_truncated": "_(The answer reached its length limit and stops here.)_",
    "image_comment": "{caption} (for {user})",
    "question_from": "{user} asked:",
    "thinking": "Thinking…",
    "answer_interrupted": "(The answer was cut off: {reason})",
    "bot_stopping": "the bot is restarting. Please ask again in a moment.",
    "slack_cut": "Slack stopped accepting updates. Please ask again.",
    # janken
    "builtin_opponent": "Janken Bot",
    "game_board": "{player} {player_hp_bar}  vs  {opponent} {opponent_hp_bar}",
    "game_prompt": "Round {round}: choose rock, paper or scissors.",
    "move_rock": "✊ rock",
    "move_paper": "✋ paper",
    "move_scissors": "✌️ scissors",
    "round_win": "You threw {player_move}, {opponent} threw {opponent_move}: you win the round!",
    "round_lose": "You threw {player_move}, {opponent} threw {opponent_move}: {opponent} wins the round.",
    "round_draw": "You both threw {player_move}: a draw, nobody loses HP.",
    "hp_line": "HP: you {player_hp}/{max_hp}, {opponent} {opponent_hp}/{max_hp}.",
    "game_won": "🎉 You beat {opponent}! Play again with /janken.",
    "game_lost": "💀 {opponent} wins the game. Play again with /janken.",
    "game_quit": "Game against {opponent} ended.",
    "play_again": "Play again",
    "not_your_game": "This game belongs to someone else. Start your own with /janken.",
    "old_board": "That board is from an older version of the bot. Start a new game with /janken.",
    "stale_board": "That board is out of date; here is your game now.",
    "no_game": "You have no game running. Start one with /janken.",
    "stats": (
        "Your record: games {games_won} won, {games_lost} lost; rounds {wins} won, {losses} lost, "
        "{draws} drawn; win streak {streak} (best {best_streak})."
    ),
}

_CATALOGUES = {"en": _EN}


def text(key: str, locale: str = "en", **values: object) -> str:
    """The sentence ``key`` in ``locale`` (falling back to English), filled with ``values``."""
    catalogue = _CATALOGUES.get(locale.split("-")[0], _EN)
    return catalogue.get(key, _EN[key]).format(**values)


def placeholders(key: str) -> frozenset[str]:
    """The names of the values sentence ``key`` needs; :class:`KeyError` if there is no such sentence."""
    if key not in _EN:
        raise KeyError(f"no sentence {key!r} in core/messages.py")
    return _fields(_EN[key])


@functools.cache
def _fields(template: str) -> frozenset[str]:
    names = (field for _, field, _, _ in string.Formatter().parse(template) if field)
    return frozenset(name.partition(".")[0].partition("[")[0] for name in names)
