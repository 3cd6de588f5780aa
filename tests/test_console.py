"""The console platform as a user runs it: a real ``python -m bot console`` subprocess."""

from __future__ import annotations

import asyncio
import io
import os
import random
import re
import sys
from pathlib import Path

from bot import console as console_platform
from core.ai import AIService, DisabledAI
from core.store.memory import MemoryStore
from handlers.port import Services
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent


async def console(
    lines: list[str] | bytes, cwd: Path, args: tuple[str, ...] = ("console",), **env: str
) -> tuple[int, str, str]:
    """Run the bot with ``lines`` (or raw bytes) on stdin; return (exit code, stdout, stderr)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SLACK_", "DISCORD_"))}
    clean.update(
        {"PYTHONPATH": str(ROOT), "STORE_URL": f"sqlite:///{cwd}/bot.db", "PYTHONIOENCODING": "utf-8"}
    )
    clean.update(env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=clean,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdin = lines if isinstance(lines, bytes) else "\n".join(lines).encode() + b"\n"
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_janken_plays_without_openai_and_exits_cleanly_at_eof(tmp_path: Path) -> None:
    code, out, err = await console(["/janken rock", "/janken グー", "/janken ✊", "/janken stats"], tmp_path)
    assert code == 0 and "Traceback" not in out + err
    assert out.count("You threw ✊ rock") + out.count("You both threw ✊ rock") == 3
    assert "rounds" in out and "Your record" in out


async def test_plain_python_m_bot_is_the_console_without_tokens(tmp_path: Path) -> None:
    code, out, _ = await console(["/janken"], tmp_path, args=())
    assert code == 0 and "Janken Bot" in out and "Round 1" in out


async def test_ask_and_draw_without_a_key_answer_one_line_naming_it(tmp_path: Path) -> None:
    code, out, err = await console(["/ask hello", "/draw a cat", "/janken"], tmp_path)
    assert code == 0 and "Traceback" not in out + err
    ask_line, draw_line, *rest = out.splitlines()
    assert "OPENAI_API_KEY" in ask_line and "OPENAI_API_KEY" in draw_line  # one line each, nothing else
    assert "Janken Bot" in " ".join(rest)  # the session went on


async def test_bad_input_gets_usage_and_the_console_keeps_running(tmp_path: Path) -> None:
    code, out, _ = await console(
        ["/ask", "/janken rok", "/nope", "/draw --size huge cat", "/janken paper"], tmp_path
    )
    assert code == 0
    assert "Usage: /ask" in out and "'rok' is not a move" in out and "I don't know /nope" in out
    assert "Unknown size 'huge'" in out
    assert "You threw ✋ paper" in out or "You both threw ✋ paper" in out


async def test_state_survives_a_restart_on_the_same_sqlite_file(tmp_path: Path) -> None:
    await console(["/janken rock", "/janken rock"], tmp_path)
    code, out, _ = await console(["/janken stats", "/janken"], tmp_path)
    assert code == 0
    won, lost, drawn = map(int, re.search(r"rounds (\d+) won, (\d+) lost, (\d+) drawn", out).groups())  # type: ignore[union-attr]
    assert won + lost + drawn == 2
    assert "Round 3: choose" in out  # two rounds cannot end a 3 HP game, so it runs on


async def test_ask_streams_through_the_fake_openai_and_follow_ups_keep_context(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        fake.chunks = ["The answer", " is ", "four."]
        code, out, err = await console(
            ["/ask What is 2+2?", "/ask And doubled?"],
            tmp_path,
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=fake.url,
        )
        assert code == 0, err
        assert out.count("The answer is four.") == 2
        second = fake.calls("chat")[1].body["messages"]
        assert [m["content"] for m in second[1:]] == ["What is 2+2?", "The answer is four.", "And doubled?"]
        assert fake.calls("chat")[0].headers["Authorization"] == "Bearer sk-test"
        assert "sk-test" not in err  # the key is never logged


async def test_draw_saves_the_image_and_prints_its_path(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        fake.image = b"\x89PNG\r\n\x1a\nfake image"
        code, out, err = await console(
            ["/draw --size landscape a lighthouse at dusk"],
            tmp_path,
            OPENAI_API_KEY="k",
            OPENAI_BASE_URL=fake.url,
        )
    assert code == 0, err
    saved = list((tmp_path / "images").glob("*.png"))
    assert len(saved) == 1 and saved[0].read_bytes() == fake.image
    assert f"a lighthouse at dusk: images/{saved[0].name}" in out


async def test_openai_errors_reach_the_console_as_one_clear_line(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        fake.fail("chat", "rate_limit", times=5)
        fake.fail("images", "moderation")
        code, out, err = await console(
            ["/ask hi", "/draw bad"],
            tmp_path,
            OPENAI_API_KEY="k",
            OPENAI_BASE_URL=fake.url,
            OPENAI_MAX_RETRIES="0",
        )
    assert code == 0 and "Traceback" not in out + err
    assert "rate limiting" in out and "safety system" in out


async def test_a_malformed_setting_stops_start_up_with_one_line(tmp_path: Path) -> None:
    code, out, err = await console(["/janken"], tmp_path, JANKEN_HP="abc")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "configuration error: JANKEN_HP='abc' is not valid: expected a whole number"
    ]


async def test_discord_without_its_token_stops_with_one_line(tmp_path: Path) -> None:
    code, _, err = await console([], tmp_path, args=("discord",))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "DISCORD_TOKEN" in err


async def test_an_unopenable_store_stops_start_up_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    for url in (f"sqlite:///{tmp_path}/adir", "sqlite:////proc/nope/bot.db"):
        code, out, err = await console(["/janken"], tmp_path, STORE_URL=url)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("configuration error: STORE_URL="), err


def test_every_platform_with_credentials_starts_and_the_console_only_without_any() -> None:
    from bot.__main__ import chosen_platforms
    from bot.config import Settings

    def chosen(**env: str) -> list[str]:
        return chosen_platforms(None, Settings.from_env(env, dotenv_path=None))

    assert chosen() == ["console"]
    assert chosen(DISCORD_TOKEN="d") == ["discord"]
    assert chosen(SLACK_BOT_TOKEN="xoxb-s", DISCORD_TOKEN="d") == ["slack", "discord"]
    assert chosen_platforms("console", Settings.from_env({"DISCORD_TOKEN": "d"}, dotenv_path=None)) == ["console"]


async def test_sigterm_ends_a_console_waiting_for_input(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SLACK_", "DISCORD_"))}
    env.update(PYTHONPATH=str(ROOT), STORE_URL="memory://")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"/janken\n")
    await proc.stdin.drain()
    assert "Janken Bot" in (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
    proc.terminate()  # stdin stays open: the REPL is blocked waiting for a line
    assert await asyncio.wait_for(proc.wait(), timeout=10) == 0


# Hostile input and output: bytes that are not UTF-8 in, terminal control sequences out.

NOT_UTF8 = b"/janken rock\n\xff\xfe\n/janken \xc3rock\n/janken stats\n"
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def assert_each_line_answered(out: str) -> None:
    assert "You threw ✊ rock" in out or "You both threw ✊ rock" in out
    assert "I don't know \ufffd\ufffd" in out  # the bad line: one short answer
    assert "'\ufffdrock' is not a move" in out
    assert "Your record" in out  # ...and the line after it still ran


async def run_console(services: Services, stdin: io.TextIOBase, tmp_path: Path) -> str:
    out = io.StringIO()
    await asyncio.wait_for(console_platform.run(services, stdin, out, images_dir=tmp_path), timeout=10)  # type: ignore[arg-type]
    return out.getvalue()


async def test_invalid_utf8_on_stdin_gets_a_short_answer_and_later_lines_run(tmp_path: Path) -> None:
    services = Services(ai=DisabledAI(), store=MemoryStore(), rng=random.Random(1))
    stdin = io.TextIOWrapper(io.BytesIO(NOT_UTF8), encoding="utf-8")
    assert_each_line_answered(await run_console(services, stdin, tmp_path))


async def test_a_text_only_stdin_still_works(tmp_path: Path) -> None:
    services = Services(ai=DisabledAI(), store=MemoryStore())
    assert "Your record" in await run_console(services, io.StringIO("/janken stats\n"), tmp_path)


async def test_invalid_utf8_piped_into_python_m_bot_console(tmp_path: Path) -> None:
    code, out, err = await console(NOT_UTF8, tmp_path)
    assert code == 0 and "Traceback" not in out + err
    assert_each_line_answered(out)


async def test_terminal_control_sequences_in_a_streamed_answer_are_stripped(
    ai: AIService, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.chunks = [
        "Clear\x1b[2",  # a CSI split across deltas
        "J screen, \x1b]0;pwned\x07title, ",
        "\x1b]8;;https://evil.example/\x1b",  # an OSC 8 link whose ST is split
        "\\link\x1b]8;;\x1b\\, \x9b31mred\x1b[0m, bell\x07\x00\r, ",
        "\x1b]52;c;Y2xpcGJvYXJk\x1b\\clipboard, \x1bPdcs\x1b\\done.\tok\n",
    ]
    services = Services(ai=ai, store=MemoryStore())
    out = await run_console(services, io.StringIO("/ask hi\n"), tmp_path)
    assert not CONTROLS.search(out), repr(out)
    assert "Clear screen, title, link, red, bell, clipboard, done.\tok" in out
    assert "evil.example" not in out and "pwned" not in out


async def test_the_console_starts_without_importing_any_chat_platform(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from bot.__main__ import main\n"
        "code = main(['console'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('slack_sdk', 'slack_bolt', 'discord')))\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STORE_URL": "memory://"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(b"/janken rock\n"), 60)
    assert proc.returncode == 0, err
    assert out.decode().strip().splitlines()[-1] == "[]"
