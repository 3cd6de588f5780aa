"""The message catalogues: every key in English and Japanese with the same placeholders, and no
user-facing sentence written anywhere else (a handler or adapter passing a literal to a chat)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core import messages
from core.catalogues import en, ja
from core.janken import Move, Outcome
from core.messages import LANGUAGES, fields, language, placeholders, text
from handlers import janken as janken_handler

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = {"en": en.MESSAGES, "ja": ja.MESSAGES}
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff60]")
SAME_IN_EVERY_LANGUAGE = {
    "image_caption": "only the prompt itself",
    "image_saved": "an emoji, the caption and a path",
    "progress": "an emoji before a sentence that is itself translated",
    "game_board": "names and hearts around 'vs', which Japanese boards use too",
}
"""Keys whose sentence holds no words to translate, each with why."""
DISCORD_TEXT = re.compile(r"(command|option)_")
CHOICE = re.compile(r"choice_")


def test_the_languages_are_english_and_japanese() -> None:
    assert LANGUAGES == ("en", "ja") and set(CATALOGUES) == set(LANGUAGES)


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_key_is_in_every_language(code: str) -> None:
    missing = en.MESSAGES.keys() - CATALOGUES[code].keys()
    extra = CATALOGUES[code].keys() - en.MESSAGES.keys()
    assert not missing, f"{code} lacks {sorted(missing)}"
    assert not extra, f"{code} has keys English lacks: {sorted(extra)}"


@pytest.mark.parametrize("key", sorted(en.MESSAGES))
def test_placeholders_conversions_and_formats_match(key: str) -> None:
    english = fields(en.MESSAGES[key])
    for code, catalogue in CATALOGUES.items():
        assert fields(catalogue[key]) == english, f"{code}:{key} fills other values than English"


@pytest.mark.parametrize("key", sorted(en.MESSAGES))
def test_japanese_is_japanese_and_formats(key: str) -> None:
    sentence = ja.MESSAGES[key]
    assert sentence.strip(), key
    if key in SAME_IN_EVERY_LANGUAGE:
        assert sentence == en.MESSAGES[key]
    else:
        assert JAPANESE.search(sentence), f"ja:{key} is not translated: {sentence!r}"
    values = {name: "x" for name in placeholders(key)}
    numbers = {name: 1 for name, _, spec in fields(sentence) if spec}  # {length:,} {minutes:02d}
    assert text(key, "ja", **(values | numbers))


def test_discord_descriptions_and_choice_names_fit_discord() -> None:
    """Discord refuses a description or choice name outside 1-100 characters, in any language."""
    keys = [k for k in en.MESSAGES if DISCORD_TEXT.match(k) or CHOICE.match(k)]
    assert len(keys) >= 20
    for code, catalogue in CATALOGUES.items():
        for key in keys:
            assert 1 <= len(catalogue[key]) <= 100, f"{code}:{key}"
            assert not fields(catalogue[key]), f"{code}:{key} is sent as it is: no placeholders"


def test_keys_built_from_values_exist() -> None:
    """Keys made in code from a value (``move_rock``, ``round_win``) name real sentences."""
    for move in Move:
        placeholders(f"move_{move.value}")
        placeholders(f"choice_{move.value}")
    for outcome in Outcome:
        placeholders(f"round_{outcome.value}")


def test_every_literal_key_used_is_in_the_catalogue() -> None:
    """``text("key", …)`` and ``localized("key")`` anywhere name a sentence English has."""
    used = 0
    for path in sorted(p for top in ("bot", "handlers", "core") for p in (ROOT / top).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _name(node.func) in ("text", "localized") and node.args:
                key = node.args[0]
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    assert key.value in en.MESSAGES, f"{path.relative_to(ROOT)}:{node.lineno}: {key.value}"
                    used += 1
    assert used >= 20


@pytest.mark.parametrize("code", LANGUAGES)
def test_janken_usage_and_unknown_janken_list_every_subcommand(code: str) -> None:
    for key in ("usage_janken", "unknown_janken"):
        for sub in janken_handler.SUBCOMMANDS:
            assert f"/janken {sub}" in CATALOGUES[code][key], f"{code}:{key} lacks /janken {sub}"


def test_a_locale_tag_is_read_as_a_language() -> None:
    assert [language(t) for t in ("ja-JP", "ja", "JA_jp", "en-GB", "en-US", "fr-FR", "", None, "-")] == [
        "ja", "ja", "ja", "en", "en", None, None, None, None,
    ]  # fmt: skip
    assert text("thinking", "ja-JP") == "考えています…" and text("thinking", "fr") == "Thinking…"
    assert text("move_rock", "ja") == "✊ グー"


def test_a_missing_key_fails_where_it_is_asked_for() -> None:
    with pytest.raises(KeyError):
        text("no_such_sentence", "ja")
    with pytest.raises(KeyError, match="catalogues/en.py"):
        placeholders("no_such_sentence")


def test_a_key_missing_in_japanese_or_with_other_placeholders_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks above catch what they are for (run on a catalogue broken on purpose)."""
    broken = dict(ja.MESSAGES)
    del broken["thinking"]
    broken["stats"] = broken["stats"].replace("{best_streak}", "{best}")
    monkeypatch.setitem(CATALOGUES, "ja", broken)
    with pytest.raises(AssertionError, match="thinking"):
        test_every_key_is_in_every_language("ja")
    with pytest.raises(AssertionError, match="ja:stats"):
        test_placeholders_conversions_and_formats_match("stats")
    monkeypatch.setitem(messages._CATALOGUES, "ja", broken)
    assert text("thinking", "ja") == "Thinking…"  # a user would read English rather than an error


# --- no literal user-facing text outside the catalogues ---


@dataclass(frozen=True)
class Sink:
    """A call whose arguments at ``positions`` or ``keywords`` are shown to users."""

    positions: tuple[int, ...] = ()
    keywords: frozenset[str] = frozenset()
    every_keyword: bool = False


TEXT = frozenset({"text", "message", "content"})
SINKS: dict[str, Sink] = {
    # the Reply port, as handlers and adapters call it
    "post_text": Sink((0,), TEXT),
    "send_private": Sink((0,), TEXT),
    "start_thread": Sink((0,), frozenset({"title"})),
    "progress": Sink((0,), TEXT),
    "post_image": Sink((1,), frozenset({"caption"})),
    # the adapters' own ways to a user
    "send_ephemeral": Sink((2,), TEXT),
    "_send": Sink((0,), TEXT),
    "_print": Sink((0,)),
    "write": Sink((0,)),
    "_button": Sink((0,), frozenset({"label"})),
    "JankenButton": Sink((1,), frozenset({"label"})),
    # discord.py
    "send": Sink((0,), TEXT),
    "send_message": Sink((0,), TEXT),
    "edit": Sink((1,), TEXT),  # Outlet.edit(message, content); Message.edit(content=…)
    "edit_original_response": Sink((), TEXT),
    "Embed": Sink((), frozenset({"title", "description"})),
    "Button": Sink((), frozenset({"label"})),
    "command": Sink((), frozenset({"description"})),
    "describe": Sink(every_keyword=True),
    "Choice": Sink((), frozenset({"name"})),
    # Slack
    "chat_postMessage": Sink((), frozenset({"text", "markdown_text"})),
    "chat_postEphemeral": Sink((), frozenset({"text", "markdown_text"})),
    "chat_update": Sink((), frozenset({"text", "markdown_text"})),
    "respond": Sink((), TEXT),
    "ack": Sink((), TEXT),
    "files_upload_v2": Sink((), frozenset({"initial_comment", "title"})),
}
SHOWN_KEYS = frozenset({"text", "alt_text", "title", "label", "placeholder"})
"""Keys of Block Kit objects whose string values users read."""
ALLOWED = {
    "": "an empty line ends an answer streamed to the console",
    "\n": "joins two lines that are each catalogue text or the user's own",
}
"""Literal text that may reach a user, each with why: glue with no words in it."""


def _name(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def literal_pieces(node: ast.expr) -> Iterator[str]:
    """The literal text ``node`` puts into what a user reads (calls, such as ``text(…)``, put none)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.JoinedStr):
        for part in node.values:
            yield from literal_pieces(part) if not isinstance(part, ast.FormattedValue) else ()
    elif isinstance(node, ast.BinOp):
        yield from literal_pieces(node.left)
        yield from literal_pieces(node.right)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from literal_pieces(value)
    elif isinstance(node, ast.IfExp):
        yield from literal_pieces(node.body)
        yield from literal_pieces(node.orelse)


def shown_arguments(tree: ast.AST) -> Iterator[tuple[int, ast.expr]]:
    """Every expression the scanned code hands to a user: sink arguments and Block Kit text."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (sink := SINKS.get(_name(node.func) or "")):
            for index in sink.positions:
                if index < len(node.args):
                    yield node.lineno, node.args[index]
            for keyword in node.keywords:
                if keyword.arg and (sink.every_keyword or keyword.arg in sink.keywords):
                    yield node.lineno, keyword.value
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in SHOWN_KEYS:
                    yield node.lineno, value


def literal_text(source: str) -> list[tuple[int, str]]:
    """(line, literal) for each piece of literal text ``source`` shows a user, outside :data:`ALLOWED`."""
    found = []
    for line, argument in shown_arguments(ast.parse(source)):
        found += [(line, piece) for piece in literal_pieces(argument) if piece not in ALLOWED]
    return found


ADAPTERS_AND_HANDLERS = sorted(p for top in ("bot", "handlers") for p in (ROOT / top).rglob("*.py"))


def test_the_scan_sees_the_places_text_reaches_users() -> None:
    seen = sum(
        1 for path in ADAPTERS_AND_HANDLERS for _ in shown_arguments(ast.parse(path.read_text(encoding="utf-8")))
    )
    assert seen >= 40
    offending = '''
async def handle(command, reply, services, client, interaction, respond, ack):
    await reply.post_text("Hello there")
    await reply.send_private(f"You have {n} games")
    async with reply.progress("Working" + "…"):
        await reply.post_image(image, "A cat")
    await client.chat_postMessage(channel="C1", text="Done!")
    await respond(text=ok or "fallback")
    await ack(text="Thinking")
    await interaction.response.send_message(content="Hi")
    await interaction.followup.send("Later")
    embed = discord.Embed(title="Board")
    block = {"type": "plain_text", "text": "Play"}
    tree.command(name="ask", description="Ask the AI")
    app_commands.describe(question="What you want to know")
'''
    assert sorted(piece for _, piece in literal_text(offending)) == sorted([
        "Hello there", "You have ", " games", "Working", "…", "A cat", "Done!", "fallback", "Thinking",
        "Hi", "Later", "Board", "Play", "Ask the AI", "What you want to know",
    ])  # fmt: skip
    fine = '''
async def handle(command, reply, services, line, title):
    await reply.post_text(text("game_quit", command.locale, opponent=name))
    await client.chat_postMessage(channel="C1", text=f"{line}\\n{title}", blocks=[{"type": "section"}])
    self._print("")
'''
    assert literal_text(fine) == []


@pytest.mark.parametrize("path", ADAPTERS_AND_HANDLERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_handler_or_adapter_shows_a_literal_sentence(path: Path) -> None:
    found = literal_text(path.read_text(encoding="utf-8"))
    where = path.relative_to(ROOT)
    assert not found, "move these into core/catalogues: " + ", ".join(f"{where}:{n} {s!r}" for n, s in found)
