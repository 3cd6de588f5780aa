"""Settings: defaults, .env below the environment, and one clear line per bad value."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from bot import __main__ as entrypoint
from bot.config import ConfigError, Settings


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({}, dotenv_path=None)
    assert settings.store_url == "sqlite:///bot.db"
    assert (settings.openai_chat_model, settings.openai_image_model) == ("gpt-5.4-mini", "gpt-image-2")
    assert settings.slack_api_url == "https://slack.com/api/"
    assert (settings.janken_hp, settings.janken_mercy, settings.ai_enabled) == (3, False, False)


def test_dotenv_fills_in_and_the_environment_wins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env_file = tmp_path / ".env"
    env_file.write_text("OPENAI_CHAT_MODEL=from-file\nJANKEN_HP=5\nOPENAI_API_KEY=sk-file\n")
    settings = Settings.from_env({"OPENAI_CHAT_MODEL": "from-env"}, dotenv_path=str(env_file))
    assert (settings.openai_chat_model, settings.janken_hp, settings.ai_enabled) == ("from-env", 5, True)


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings.from_env(
        {"OPENAI_API_KEY": "sk-secret", "SLACK_BOT_TOKEN": "xoxb-secret", "DISCORD_TOKEN": "dsecret"},
        dotenv_path=None,
    )
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JANKEN_HP", "abc"),
        ("JANKEN_HP", "0"),
        ("JANKEN_MERCY", "maybe"),
        ("PORT", "70000"),
        ("LOG_LEVEL", "LOUD"),
        ("STORE_URL", "mongodb://x"),
        ("STORE_URL", "bot.db"),
        ("STORE_URL", "sqlite://x.db"),
        ("DISCORD_GUILD_ID", "guild"),
        ("OPENAI_TIMEOUT", "-1"),
        ("HISTORY_TURNS", "many"),
        ("OPENAI_BASE_URL", "localhost:8000"),
        ("SLACK_API_URL", "slack.com/api"),
        ("SLACK_STREAMING", "fast"),
        ("QUOTA_ASK_PER_DAY", "-1"),
        ("QUOTA_DRAW_PER_DAY", "lots"),
        ("QUOTA_TTL_HOURS", "12"),
        ("CONVERSATION_TTL_HOURS", "-5"),
        ("OPENAI_MAX_CONCURRENCY", "1.5"),
        ("MODERATION", "strict"),
        ("ALLOWED_CHANNELS", " , "),
        ("DISCORD_SHARD_COUNT", "0"),
    ],
)
def test_a_malformed_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value}, dotenv_path=None)
    message = str(caught.value)
    assert message.startswith(f"{name}=") and "\n" not in message


def test_limits_and_allowlists_are_read_and_reach_the_handlers() -> None:
    settings = Settings.from_env(
        {
            "QUOTA_ASK_PER_DAY": "20",
            "QUOTA_DRAW_PER_DAY": "3",
            "CONVERSATION_TTL_HOURS": "0",
            "MODERATION": "All",
            "ALLOWED_CHANNELS": "C1, C2 C3",
            "ALLOWED_ROLES": "S1",
        },
        dotenv_path=None,
    )
    limits = entrypoint.limits_of(settings)
    assert (limits.quota_ask_per_day, limits.quota_draw_per_day, limits.quota_ttl) == (20, 3, 48 * 3600)
    assert limits.conversation_ttl is None  # 0 hours: kept for ever
    assert limits.moderation == "all"
    assert (limits.allowed_channels, limits.allowed_roles) == ({"C1", "C2", "C3"}, {"S1"})
    defaults = entrypoint.limits_of(Settings.from_env({}, dotenv_path=None))
    assert (defaults.quota_ask_per_day, defaults.moderation, defaults.conversation_ttl) == (0, "draw", 168 * 3600)
    assert Settings.from_env({}, dotenv_path=None).openai_max_concurrency == 32


@pytest.mark.parametrize(
    ("ids", "count", "expected"),
    [(None, None, (None, None)), (None, "4", (None, 4)), ("0-2,5", "6", ((0, 1, 2, 5), 6)), ("3", "4", ((3,), 4))],
)
def test_discord_shard_ranges(ids: str | None, count: str | None, expected: tuple[object, object]) -> None:
    env = {k: v for k, v in (("DISCORD_SHARD_IDS", ids), ("DISCORD_SHARD_COUNT", count)) if v is not None}
    settings = Settings.from_env(env, dotenv_path=None)
    assert (settings.discord_shard_ids, settings.discord_shard_count) == expected


@pytest.mark.parametrize(
    ("ids", "count", "says"),
    [("0-1", None, "needs DISCORD_SHARD_COUNT"), ("4", "4", "from 0 to"), ("2-1", "4", "backwards"), ("1,1", "4", "twice")],
)
def test_bad_discord_shard_ranges_stop_start_up_with_one_line(ids: str, count: str | None, says: str) -> None:
    env = {"DISCORD_SHARD_IDS": ids, **({"DISCORD_SHARD_COUNT": count} if count else {})}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env, dotenv_path=None)
    assert "DISCORD_SHARD_IDS" in str(caught.value) and says in str(caught.value)


@pytest.mark.parametrize("url", ["memory://", "sqlite:////tmp/x.db", "sqlite:///x.db"])
def test_supported_store_urls_are_accepted(url: str) -> None:
    assert Settings.from_env({"STORE_URL": url}, dotenv_path=None).store_url == url


def test_redis_url_is_read_when_store_url_is_unset_and_store_url_wins_when_both_are_set() -> None:
    settings = Settings.from_env({"REDIS_URL": "redis://:hunter2@db:6379/0"}, dotenv_path=None)
    assert settings.store_url == "redis://:hunter2@db:6379/0" and "hunter2" not in repr(settings)
    settings = Settings.from_env({"REDIS_URL": "redis://db", "STORE_URL": "memory://"}, dotenv_path=None)
    assert settings.store_url == "memory://"


SECRET_URLS = [
    "mongodb://u:hunter2@db/?authSource=admin",
    "mysql://admin:hunter2@db:3306/bot",
    "postgres://:hunter2@db/bot?sslmode=require",
    "sqlite://u:hunter2@bot.db",
    "sqlite://bot.db?token=hunter2",
    "hunter2@db",
]


@pytest.mark.parametrize("name", ["STORE_URL", "REDIS_URL"])
@pytest.mark.parametrize("url", SECRET_URLS)
def test_a_refused_store_url_never_shows_its_secret(
    name: str, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: url}, dotenv_path=None)
    message = str(caught.value)
    assert message.startswith(f"{name}=") and "***" in message
    assert "hunter2" not in message + caplog.text


def test_the_store_url_stays_out_of_repr() -> None:
    settings = Settings.from_env({"STORE_URL": "sqlite:///hunter2.db"}, dotenv_path=None)
    assert "hunter2" not in repr(settings)


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2@127.0.0.1:1/0",
        "redis://admin:hunter2@127.0.0.1:1/0",
        "redis://127.0.0.1:1/0?password=hunter2",
    ],
)
def test_a_redis_that_cannot_be_reached_stops_start_up_without_the_secret(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REDIS_URL", url)
    caplog.set_level(logging.DEBUG)
    assert entrypoint.main(["console"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("configuration error: REDIS_URL=") and len(err.strip().splitlines()) == 1
    assert "hunter2" not in err + caplog.text


@pytest.mark.parametrize(
    "url", ["sqlite:////proc/self/db?token=hunter2/bot.db", "sqlite:////proc/self/u:hunter2@x/bot.db"]
)
def test_a_store_that_cannot_open_stops_start_up_without_the_secret(
    url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORE_URL", url)
    caplog.set_level(logging.DEBUG)
    assert entrypoint.main(["console"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("configuration error: STORE_URL=") and "No such file" in err
    assert "hunter2" not in err + caplog.text


def test_env_example_lists_every_setting_and_parses() -> None:
    root = Path(__file__).resolve().parent.parent
    listed = {
        line.split("=", 1)[0]
        for line in (root / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    read = set(re.findall(r'get\("([A-Z_]+)"\)', (root / "bot" / "config.py").read_text()))
    assert read and listed == read
    Settings.from_env({}, dotenv_path=str(root / ".env.example"))
