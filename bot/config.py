"""Settings: every environment variable read and validated once, at start-up.

Values come from the environment and from ``.env`` (the environment wins).
A bad value raises :class:`ConfigError` with one line naming the variable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from dotenv import dotenv_values

from core.ai import TRANSCRIBE_MODEL
from core.messages import LANGUAGES
from core.pricing import Price, parse_prices
from core.store.factory import SCHEMES
from core.store.redaction import redacted

_T = TypeVar("_T")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant in a team chat. Answer clearly and concisely; use Markdown sparingly."
)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def require(name: str, value: str | None, purpose: str) -> str:
    """``value``, or a :class:`ConfigError` saying ``name`` is needed for ``purpose``."""
    if not value:
        raise ConfigError(f"{name} is not set; it is needed {purpose}")
    return value


@dataclass(frozen=True)
class Settings:
    """The bot's configuration. Secrets are kept out of ``repr``."""

    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    openai_chat_model: str = "gpt-5.4-mini"
    openai_image_model: str = "gpt-image-2"
    openai_transcribe_model: str = TRANSCRIBE_MODEL
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    openai_timeout: float = 60.0
    openai_max_retries: int = 2
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = "https://slack.com/api/"
    slack_streaming: str = "native"
    discord_token: str | None = field(default=None, repr=False)
    discord_guild_id: int | None = None
    store_url: str = field(default="sqlite:///bot.db", repr=False)  # may hold a password
    store_url_name: str = "STORE_URL"
    """The variable ``store_url`` came from (``REDIS_URL`` when ``STORE_URL`` is unset), for messages."""
    port: int | None = None
    log_level: str = "INFO"
    janken_hp: int = 3
    janken_mercy: bool = False
    history_turns: int = 20
    conversation_ttl_hours: int = 168
    history_days: int = 30
    openai_prices: Mapping[str, Price] = field(default_factory=dict)
    """Dollars per million tokens in and out, or per image, by model (``OPENAI_PRICES``); no default."""
    quota_ask_per_day: int = 0
    quota_draw_per_day: int = 0
    quota_ttl_hours: int = 48
    openai_max_concurrency: int = 32
    moderation: str = "draw"
    allowed_channels: frozenset[str] = frozenset()
    allowed_roles: frozenset[str] = frozenset()
    discord_shard_ids: tuple[int, ...] | None = None
    discord_shard_count: int | None = None
    bot_locale: str = "en"
    """The language for users whose platform does not say theirs (``BOT_LOCALE``)."""

    @property
    def ai_enabled(self) -> bool:
        """Whether there is an OpenAI(-compatible) endpoint to talk to."""
        return bool(self.openai_api_key or self.openai_base_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv_path: str | None = ".env") -> Settings:
        """Read ``dotenv_path`` (if it exists) overlaid by ``environ`` (default ``os.environ``)."""
        file_values = dotenv_values(dotenv_path) if dotenv_path and os.path.exists(dotenv_path) else {}
        env = {
            **{k: v for k, v in file_values.items() if v is not None},
            **(os.environ if environ is None else environ),
        }

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        store_source = "STORE_URL" if get("STORE_URL") or not get("REDIS_URL") else "REDIS_URL"
        store_url = _checked_store_url(store_source, get(store_source) or cls.store_url)
        shard_ids, shard_count = _shards(get("DISCORD_SHARD_IDS"), get("DISCORD_SHARD_COUNT"))
        return cls(
            openai_api_key=get("OPENAI_API_KEY"),
            openai_base_url=_parsed("OPENAI_BASE_URL", get("OPENAI_BASE_URL"), _base_url, None),
            openai_chat_model=get("OPENAI_CHAT_MODEL") or cls.openai_chat_model,
            openai_image_model=get("OPENAI_IMAGE_MODEL") or cls.openai_image_model,
            openai_transcribe_model=get("OPENAI_TRANSCRIBE_MODEL") or cls.openai_transcribe_model,
            system_prompt=get("SYSTEM_PROMPT") or cls.system_prompt,
            openai_timeout=_parsed(
                "OPENAI_TIMEOUT", get("OPENAI_TIMEOUT"), _positive_float, cls.openai_timeout
            ),
            openai_max_retries=_parsed(
                "OPENAI_MAX_RETRIES", get("OPENAI_MAX_RETRIES"), _count, cls.openai_max_retries
            ),
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_api_url=_parsed("SLACK_API_URL", get("SLACK_API_URL"), _base_url, cls.slack_api_url),
            slack_streaming=_parsed(
                "SLACK_STREAMING", get("SLACK_STREAMING"), _streaming, cls.slack_streaming
            ),
            discord_token=get("DISCORD_TOKEN"),
            discord_guild_id=_parsed("DISCORD_GUILD_ID", get("DISCORD_GUILD_ID"), _positive_int, None),
            store_url=store_url,
            store_url_name=store_source,
            port=_parsed("PORT", get("PORT"), _port, None),
            log_level=_parsed("LOG_LEVEL", get("LOG_LEVEL"), _log_level, cls.log_level),
            janken_hp=_parsed("JANKEN_HP", get("JANKEN_HP"), _positive_int, cls.janken_hp),
            janken_mercy=_parsed("JANKEN_MERCY", get("JANKEN_MERCY"), _flag, False),
            history_turns=_parsed("HISTORY_TURNS", get("HISTORY_TURNS"), _positive_int, cls.history_turns),
            conversation_ttl_hours=_parsed(
                "CONVERSATION_TTL_HOURS", get("CONVERSATION_TTL_HOURS"), _count, cls.conversation_ttl_hours
            ),
            history_days=_parsed("HISTORY_DAYS", get("HISTORY_DAYS"), _positive_int, cls.history_days),
            openai_prices=_parsed("OPENAI_PRICES", get("OPENAI_PRICES"), parse_prices, {}),
            quota_ask_per_day=_parsed("QUOTA_ASK_PER_DAY", get("QUOTA_ASK_PER_DAY"), _count, 0),
            quota_draw_per_day=_parsed("QUOTA_DRAW_PER_DAY", get("QUOTA_DRAW_PER_DAY"), _count, 0),
            quota_ttl_hours=_parsed("QUOTA_TTL_HOURS", get("QUOTA_TTL_HOURS"), _day_or_more, cls.quota_ttl_hours),
            openai_max_concurrency=_parsed(
                "OPENAI_MAX_CONCURRENCY", get("OPENAI_MAX_CONCURRENCY"), _count, cls.openai_max_concurrency
            ),
            moderation=_parsed("MODERATION", get("MODERATION"), _moderation, cls.moderation),
            allowed_channels=_parsed("ALLOWED_CHANNELS", get("ALLOWED_CHANNELS"), _ids, frozenset()),
            allowed_roles=_parsed("ALLOWED_ROLES", get("ALLOWED_ROLES"), _ids, frozenset()),
            discord_shard_ids=shard_ids,
            discord_shard_count=shard_count,
            bot_locale=_parsed("BOT_LOCALE", get("BOT_LOCALE"), _language, cls.bot_locale),
        )


def _parsed(name: str, raw: str | None, parse: Callable[[str], _T], default: _T) -> _T:
    if raw is None:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={redacted(raw)!r} is not valid: {exc}") from None


def _whole_number(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("expected a whole number") from None


def _positive_int(raw: str) -> int:
    value = _whole_number(raw)
    if value < 1:
        raise ValueError("expected a whole number of 1 or more")
    return value


def _count(raw: str) -> int:
    value = _whole_number(raw)
    if value < 0:
        raise ValueError("expected a whole number of 0 or more")
    return value


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not value > 0:
        raise ValueError("expected a number of seconds above 0")
    return value


def _port(raw: str) -> int:
    value = _whole_number(raw)
    if not 0 < value < 65536:
        raise ValueError("expected a port number from 1 to 65535")
    return value


def _flag(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _base_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return raw if raw.endswith("/") else raw + "/"


def _streaming(raw: str) -> str:
    mode = raw.lower()
    if mode not in ("native", "update"):
        raise ValueError("expected native (chat.startStream) or update (chat.postMessage + chat.update)")
    return mode


def _day_or_more(raw: str) -> int:
    value = _whole_number(raw)
    if value < 24:
        raise ValueError("expected a number of hours of 24 or more (a day's counter must outlive the day)")
    return value


def _moderation(raw: str) -> str:
    mode = raw.lower()
    if mode not in ("off", "draw", "all"):
        raise ValueError("expected off, draw (image prompts and janken characters) or all (and /ask)")
    return mode


def _language(raw: str) -> str:
    code = raw.lower()
    if code not in LANGUAGES:
        raise ValueError(f"expected one of {', '.join(LANGUAGES)}")
    return code


def _ids(raw: str) -> frozenset[str]:
    """A comma- or space-separated list of ids."""
    ids = frozenset(part for part in raw.replace(",", " ").split() if part)
    if not ids:
        raise ValueError("expected ids separated by commas")
    return ids


def _shard_ids(raw: str) -> tuple[int, ...]:
    """``0,1,2`` or ``0-3`` (inclusive), or a mix: ``0-3,8``."""
    ids: list[int] = []
    for part in raw.replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        start = _count(first)
        end = _count(last) if dash else start
        if end < start:
            raise ValueError(f"the range {part} runs backwards")
        if end - start > 10_000:
            raise ValueError(f"the range {part} is too large")
        ids.extend(range(start, end + 1))
    if len(set(ids)) != len(ids):
        raise ValueError("a shard id is listed twice")
    return tuple(ids)


def _shards(raw_ids: str | None, raw_count: str | None) -> tuple[tuple[int, ...] | None, int | None]:
    """``DISCORD_SHARD_IDS`` (needs ``DISCORD_SHARD_COUNT``) and ``DISCORD_SHARD_COUNT``, checked together."""
    count = _parsed("DISCORD_SHARD_COUNT", raw_count, _positive_int, None)
    ids = _parsed("DISCORD_SHARD_IDS", raw_ids, _shard_ids, None)
    if ids is not None:
        if count is None:
            raise ConfigError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the total over every process)")
        if max(ids) >= count:
            raise ConfigError(
                f"DISCORD_SHARD_IDS={raw_ids!r} is not valid: ids run from 0 to DISCORD_SHARD_COUNT-1 ({count - 1})"
            )
    return ids, count


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return level


def _checked_store_url(name: str, url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        supported = ", ".join(f"{s}://" for s in SCHEMES)
        raise ConfigError(f"{name}={redacted(url)!r} is not supported: use one of {supported}")
    if scheme == "sqlite" and not rest.startswith("/") or url == "sqlite:///":
        raise ConfigError(
            f"{name}={redacted(url)!r} is not valid: write sqlite:///relative.db or sqlite:////abs/path.db"
        )
    return url


def configure_logging(level: str) -> None:
    """Log to stderr at ``level``; called once, by the entrypoint."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
