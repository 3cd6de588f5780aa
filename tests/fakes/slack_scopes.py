"""Slack's OAuth scopes per Web API method, as the fake Slack Web API enforces them.

Each method's reference page (https://docs.slack.dev/reference/methods/<method>) lists,
under "Scopes", the scope a "Bot token" needs; this table is written from those pages
(chat.* from chat.write's list of compatible methods and the chat.*Stream pages), not
from what the bot happens to call, so a scope missing from slack-manifest.json shows up
in tests the way it would on real Slack. auth.test needs no scope. Methods not listed
here are not checked.

A call whose token lacks the scope is refused, HTTP 200, in Slack's documented shape
(https://api.slack.com/docs/oauth-scopes#working_with_scopes)::

    {"ok": false, "error": "missing_scope", "needed": "users:read", "provided": "chat:write,..."}

The scopes granted by default are the bot scopes that slack-manifest.json asks for.
App-level tokens (``xapp-``) are not checked; the fake's caller decides that.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).resolve().parents[2] / "slack-manifest.json"

BOT_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.startStream": "chat:write",
    "chat.appendStream": "chat:write",
    "chat.stopStream": "chat:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "files.info": "files:read",
    "files.delete": "files:write",
    "users.info": "users:read",
    "usergroups.list": "usergroups:read",
}


def manifest_bot_scopes(path: Path = MANIFEST) -> tuple[str, ...]:
    """The bot scopes slack-manifest.json declares (``oauth_config.scopes.bot``), in its order."""
    manifest = json.loads(path.read_text(encoding="utf-8"))
    return tuple(manifest["oauth_config"]["scopes"]["bot"])


def missing_scope(method: str, granted: Iterable[str]) -> dict[str, Any] | None:
    """Slack's ``missing_scope`` body if `method` needs a scope not in `granted`, else None."""
    needed = BOT_SCOPES.get(method)
    granted = tuple(granted)
    if needed is None or needed in granted:
        return None
    return {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(granted)}
