"""Adversarial text benchmark: how long the splitter and the Slack renderers take on hostile input.

What it measures
    For each input shape (long runs of spaces, brackets, backticks, ``<``, ``*``, newlines, ``#``,
    ``~``, ``[a](`` repeated, ``\\r\\n``, mixtures, an unclosed fence, ...), the milliseconds each
    operation takes on 200,000 characters, and the ratio time(200k) / time(50k): about 4 for a
    linear implementation, about 16 for a quadratic one. The target (security review): every
    figure well under a second for 200,000 characters.

Operations
    ``split3500`` / ``split2000``  split_message at Slack's and Discord's limits
    ``stream``      a live stream: the buffer grows by 10k; split_head while it is over 3,500,
                    stable_length and defuse_markdown on what would be sent
    ``open_fence``  ``defuse``  ``escape``  ``stable``  once on the whole text
    ``terminal``    the console's control-sequence stripper (always the repository's)

How
    Each (shape, size, operation) runs in a forked child, best of up to 5 runs, so a hang costs
    at most ``--timeout`` seconds and shows as ``>N``. ``--from DIR`` times the ``core/text.py``
    and ``bot/render.py`` found under DIR instead (a copy of older code, to compare).

Run it by hand (it is a report, not a test)::

    .venv/bin/python -m bench.text_adversarial [--sizes 50000 200000] [--timeout 20] [--from DIR]
                                               [--shape NAME ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from bot.terminal_text import strip_controls

PROSE = (
    "The quick brown fox jumps over the lazy dog. It was not amused, and said so at length! "
    "Why would anyone do that? Nobody knew.\n\n"
)
TOKENS = ["[", "]", "(", ")", "`", "```", "<", "@", "*", "**", "_", "__", "~~", "#", "\n", " ", "\r\n",
          "[a](", "https://x", "<@", "!", ".", "。", "\t", "a", "|", ">", "&", ":", "~~~"]  # fmt: skip


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


def _mixture(seed: int, tokens: list[str]) -> Callable[[int], str]:
    def make(n: int) -> str:
        rng = random.Random(seed)
        out, size = [], 0
        while size < n:
            token = rng.choice(tokens)
            out.append(token)
            size += len(token)
        return "".join(out)[:n]

    return make


def _prose_then(unit: str) -> Callable[[int], str]:
    return lambda n: (PROSE * 40)[:3000] + _repeat(unit)(n - 3000)


SHAPES: dict[str, Callable[[int], str]] = {
    "spaces": _repeat(" "),
    "prose+spaces": _prose_then(" "),
    "prose+tabs": _prose_then("\t"),
    "newlines": _repeat("\n"),
    "crlf": _repeat("\r\n"),
    "space-newline": _repeat(" \n"),
    "lone-cr": _prose_then("\r"),
    "brackets": _repeat("["),
    "closing-brackets": _repeat("]"),
    "backticks": _repeat("`"),
    "fence-runs": _repeat("```` ``` "),
    "fence-lines": _repeat("```\n"),
    "fence-tilde-lines": _repeat("~~~ x\n"),
    "lt": _repeat("<"),
    "stars": _repeat("*"),
    "double-stars": _repeat("** "),
    "hashes": _repeat("#"),
    "heading-spaces": lambda n: "# a" + " " * (n - 4) + "b",
    "tildes": _repeat("~"),
    "underscores": _repeat("_"),
    "link-open": _repeat("[a]("),
    "link-url-open": _repeat("[a](https://x"),
    "links": _repeat("[a](https://e.example/p) "),
    "at-words": _repeat("@here@channel<@U1> "),
    "sentence-ends": _repeat(". "),
    "closers": lambda n: "." + ")" * (n - 1),
    "cjk": _repeat("これは日本語の文です。"),
    "words": _repeat("word "),
    "unclosed-fence": lambda n: "```python\n" + (PROSE * (n // len(PROSE) + 1))[: n - 10],
    "fence-then-spaces": lambda n: "```python\n" + "a" * 1980 + "\n```python" + " " * (n - 2000),
    "mixture": _mixture(1, TOKENS),
    "mixture-ws": _mixture(2, [" ", "\n", "\t", "\r\n", " \n", "a", ".", "```\n", "[", "`"]),
}


def load(root: Path | None) -> tuple[ModuleType, ModuleType]:
    """The text module and the Slack renderer: the repository's, or the copies under ``root``."""
    if root is None:
        from bot.slack_app import render
        from core import text

        return text, render
    modules = []
    for name, rel in (
        ("bench_text_under_test", "core/text.py"),
        ("bench_render_under_test", "bot/render.py"),
    ):
        spec = importlib.util.spec_from_file_location(name, root / rel)
        assert spec and spec.loader, rel
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        modules.append(module)
    return modules[0], modules[1]


def operations(text_mod: ModuleType, render: ModuleType) -> dict[str, Callable[[str], object]]:
    def stream(text: str) -> None:
        buffer, sent = "", 0
        for start in range(0, len(text), 10_000):
            buffer += text[start : start + 10_000]
            while len(buffer) > 3_500:
                _, buffer = text_mod.split_head(buffer, 3_500)
                sent = 0
            stable = render.stable_length(buffer)
            render.defuse_markdown(buffer[sent:stable])
            sent = max(sent, stable)

    return {
        "split3500": lambda text: text_mod.split_message(text, 3_500),
        "split2000": lambda text: text_mod.split_message(text, 2_000),
        "stream": stream,
        "open_fence": text_mod.open_fence,
        "defuse": render.defuse_markdown,
        "escape": render.escape_mrkdwn,
        "stable": render.stable_length,
        "terminal": strip_controls,
    }


def _child(root: Path | None, shape: str, size: int, op: str, conn) -> None:  # type: ignore[no-untyped-def]
    text = SHAPES[shape](size)
    func = operations(*load(root))[op]
    best, total = float("inf"), 0.0
    for _ in range(5):
        start = time.perf_counter()
        func(text)
        took = time.perf_counter() - start
        best, total = min(best, took), total + took
        conn.send(best)
        if total > 0.3:
            break
    conn.close()


def measure(root: Path | None, shape: str, size: int, op: str, timeout: float) -> float | None:
    """Best time in seconds, or None when the operation did not finish in ``timeout``."""
    parent, child = multiprocessing.Pipe(duplex=False)
    proc = multiprocessing.get_context("fork").Process(target=_child, args=(root, shape, size, op, child))
    proc.start()
    child.close()
    best: float | None = None
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0 and parent.poll(left):
        try:
            best = parent.recv()
        except EOFError:
            break
    if proc.is_alive():
        proc.kill()
    proc.join()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[50_000, 200_000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--from", dest="root", type=Path, help="time core/text.py and bot/render.py here")
    parser.add_argument("--shape", nargs="*", choices=sorted(SHAPES), help="only these shapes")
    args = parser.parse_args()
    small, large = args.sizes
    ops = list(operations(*load(args.root)))
    print(f"code: {args.root or 'repository'}; ms for {large:,} chars, ratio = t({large:,}) / t({small:,})")
    print(f"{'shape':<18}" + "".join(f"{op:>17}" for op in ops))
    worst = 0.0
    for shape in args.shape or SHAPES:
        cells = []
        for op in ops:
            t_small = measure(args.root, shape, small, op, args.timeout)
            t_large = measure(args.root, shape, large, op, args.timeout) if t_small is not None else None
            if t_large is None:
                cells.append(f">{args.timeout * 1000:.0f}" + (" (?)" if t_small is None else " (x)"))
                worst = float("inf")
                continue
            worst = max(worst, t_large)
            ratio = t_large / t_small if t_small > 1e-4 else float("nan")
            cells.append(f"{t_large * 1000:9.1f} ({ratio:4.1f})")
        print(f"{shape:<18}" + "".join(f"{cell:>17}" for cell in cells), flush=True)
    print(f"slowest: {worst * 1000:.1f} ms for {large:,} chars (target: well under 1,000 ms)")


if __name__ == "__main__":
    main()
