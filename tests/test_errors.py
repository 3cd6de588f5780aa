"""Our errors carry a catalogue key and its values; a key the catalogue lacks fails here, not in a chat."""

from __future__ import annotations

import ast
import copy
import inspect
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import errors
from core.messages import placeholders, text

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("bot", "handlers", "core")
ERROR_TYPES = {
    name
    for name, value in vars(errors).items()
    if inspect.isclass(value) and issubclass(value, errors.BotError)
}
KEY_ARGUMENT = {name: 0 for name in ERROR_TYPES} | {"checked": 1}
"""Calls whose argument at that position is a message key: our errors, and the input check's usage key."""


def key_arguments() -> Iterator[tuple[str, ast.Call, ast.expr]]:
    for path in sorted(p for top in SOURCES for p in (ROOT / top).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                position = KEY_ARGUMENT.get(name or "")
                if position is not None and len(node.args) > position:
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", node, node.args[position]


SITES = list(key_arguments())


def test_the_scan_finds_the_raise_sites() -> None:
    assert len(SITES) >= 20
    assert any(where.startswith("core/ai.py") for where, _, _ in SITES)
    assert any(where.startswith("bot/slack_app/") for where, _, _ in SITES)


@pytest.mark.parametrize(("where", "call", "argument"), SITES, ids=[where for where, _, _ in SITES])
def test_every_key_raised_is_in_the_catalogue_with_its_values(
    where: str, call: ast.Call, argument: ast.expr
) -> None:
    if isinstance(argument, ast.Name):  # a key passed through, e.g. checked()'s usage key
        return
    assert isinstance(argument, ast.Constant) and isinstance(argument.value, str), (
        f"{where}: pass a message key, not rendered text"
    )
    needed = placeholders(argument.value)  # KeyError: the catalogue has no such sentence
    if isinstance(call.func, ast.Name) and call.func.id == "checked":
        assert needed == frozenset()
        return
    given = {keyword.arg for keyword in call.keywords}
    assert None in given or needed <= given, f"{where}: {argument.value!r} also needs {needed - given}"


def test_an_unknown_key_fails_where_the_error_is_made() -> None:
    with pytest.raises(KeyError, match="no_such_sentence"):
        errors.UserInputError("no_such_sentence")


def test_a_missing_value_fails_where_the_error_is_made() -> None:
    with pytest.raises(TypeError, match="length, limit"):
        errors.UserInputError("too_long")


def test_an_error_renders_its_sentence_only_when_asked() -> None:
    error = errors.UserInputError("bad_size", value="huge")
    assert (error.key, error.params) == ("bad_size", {"value": "huge"})
    assert error.message() == error.message("en") == text("bad_size", value="huge")
    assert str(error) == error.message()  # logs and chained causes read as before
    assert error.message("ja") == text("bad_size", "ja", value="huge")


def test_placeholders_lists_a_sentences_values() -> None:
    assert placeholders("too_long") == {"length", "limit"}
    assert placeholders("bad_size") == {"value"}
    assert placeholders("internal_error") == frozenset()


def test_an_error_survives_pickling_and_copying_with_its_values() -> None:
    error = errors.UpstreamError("ai_failed", detail="error 400")
    for twin in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert type(twin) is errors.UpstreamError and (twin.key, twin.params) == (error.key, error.params)
