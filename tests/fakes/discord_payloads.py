"""Realistic gateway payloads: INTERACTION_CREATE for slash commands and button clicks, MESSAGE_CREATE
for what people post (replies included), GUILD_CREATE.

Part of `FakeDiscordAPI`. Each builder returns a fresh payload (new snowflake id, new token) and
registers the interaction, so its 3 s and 15 min clocks start when it is built. Builders are as strict
as Discord about what a user can invoke: a slash command must be registered where it is used (guild
commands only in their guild; a global command's `contexts` and `integration_types` must allow the
place and the install), its options must exist, required ones must be given and choices respected;
a button must be on the message it is clicked on. `strict=False` skips the registry checks.
Field names follow interactions/receiving-and-responding.mdx ("Interaction Structure") and
resources/message.mdx ("Message Object", "Message Reference Structure").
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from .discord_interactions import InteractionRoutes
from .discord_state import CHANNEL_ID, GUILD_ID, USER_ID, Attachment, Interaction, Message

JsonDict = dict[str, Any]
GUILD, BOT_DM, PRIVATE_CHANNEL = 0, 1, 2  # interaction context types
GUILD_INSTALL, USER_INSTALL = 0, 1  # application integration types
# VIEW_CHANNEL, SEND_MESSAGES, EMBED_LINKS, ATTACH_FILES, READ_MESSAGE_HISTORY, USE_APPLICATION_COMMANDS
BOT_PERMISSIONS = str((1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 31))
MEMBER_PERMISSIONS = BOT_PERMISSIONS
_OPTION_TYPES = {str: 3, bool: 5, int: 4, float: 10}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def user_payload(user_id: str = USER_ID, name: str | None = None) -> JsonDict:
    """A user object as Discord sends it."""
    name = name or f"user{user_id[-4:]}"
    return {"id": user_id, "username": name, "discriminator": "0", "global_name": name.title(), "avatar": None,
            "public_flags": 0}  # fmt: skip


class PayloadBuilders(InteractionRoutes):
    """Payload builders of `FakeDiscordAPI`."""

    attachment_size_limit: int

    def slash_command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        guild_id: str | None = GUILD_ID,
        channel_id: str | None = None,
        user_id: str = USER_ID,
        locale: str = "en-US",
        context: int | None = None,
        installs: tuple[int, ...] = (GUILD_INSTALL,),
        strict: bool = True,
    ) -> JsonDict:
        """INTERACTION_CREATE data for `/name option:value ...` (type 2).

        `guild_id=None` is a DM: context BOT_DM, or PRIVATE_CHANNEL (a DM with someone else) with
        installs=(USER_INSTALL,). `installs` are the installs that authorized it (GUILD_INSTALL,
        USER_INSTALL): a user-install-only interaction may send at most 5 follow-ups.
        """
        context = (GUILD if guild_id else BOT_DM) if context is None else context
        if (context == GUILD) != bool(guild_id) or (
            context == PRIVATE_CHANNEL and USER_INSTALL not in installs
        ):
            raise ValueError(
                f"no interaction comes from context {context} with guild {guild_id}, installs {installs}"
            )
        command = self._invocable(name, guild_id, context, installs) if strict else None
        specs = {o["name"]: o for o in (command or {}).get("options", [])}
        given = []
        for key, value in (options or {}).items():
            spec = specs.get(key, {"type": _OPTION_TYPES.get(type(value), 3)})
            if strict and key not in specs:
                raise ValueError(f"/{name} has no option {key!r}")
            choices = [c["value"] for c in spec.get("choices") or []]
            if strict and choices and value not in choices:
                raise ValueError(f"/{name} {key}: {value!r} is not one of {choices}")
            given.append({"name": key, "type": spec["type"], "value": value})
        missing = [k for k, o in specs.items() if o.get("required") and k not in (options or {})]
        if strict and missing:
            raise ValueError(f"/{name} needs {missing}")
        data: JsonDict = {"id": command["id"] if command else self._snowflake_locked(), "name": name, "type": 1,
                          "options": given}  # fmt: skip
        if command and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return self._interaction(2, data, guild_id, channel_id, user_id, locale, context, installs)

    def button_click(
        self,
        custom_id: str,
        message_id: str,
        *,
        user_id: str = USER_ID,
        guild_id: str | None = GUILD_ID,
        locale: str = "en-US",
        context: int | None = None,
        installs: tuple[int, ...] = (GUILD_INSTALL,),
        strict: bool = True,
    ) -> JsonDict:
        """INTERACTION_CREATE data for a click on button `custom_id` of a stored message (type 3)."""
        with self.lock:
            message = self._messages[str(message_id)]
            rendered = self._render(message)
        ids = [c.get("custom_id") for row in message.components for c in row.get("components", [])]
        if strict and custom_id not in ids:
            raise ValueError(f"message {message_id} has no button {custom_id!r} (it has {ids})")
        context = (GUILD if guild_id else BOT_DM) if context is None else context
        return self._interaction(3, {"custom_id": custom_id, "component_type": 2}, guild_id, message.channel_id,
                                 user_id, locale, context, installs, rendered)  # fmt: skip

    def user_message(
        self,
        content: str,
        *,
        reply_to: str | None = None,
        ping: bool = True,
        channel_id: str = CHANNEL_ID,
        guild_id: str | None = GUILD_ID,
        author: JsonDict | None = None,
    ) -> JsonDict:
        """MESSAGE_CREATE data for a message someone posts, stored in the message store as Discord does.

        `reply_to` makes it a reply (type 19) to that stored message, with `message_reference` and
        `referenced_message`; `ping` is the reply's "@ mention" toggle: on, the replied message's
        author is in `mentions`. Every `<@id>` in `content` is a mention too. What a session receives
        of it depends on its intents (the gateway blanks the content for sessions that may not read it).
        """
        author = author or user_payload()
        users = {self.application_id: self._bot_user}
        mentioned = {m: users.get(m) or user_payload(m) for m in re.findall(r"<@!?(\d+)>", content)}
        reference: JsonDict | None = None
        with self.lock:
            replied = self._messages.get(str(reply_to)) if reply_to else None
            if reply_to and (replied is None or replied.deleted or replied.channel_id != channel_id):
                raise ValueError(f"there is no message {reply_to} in channel {channel_id} to reply to")
            if replied is not None:
                reference = {"type": 0, "message_id": replied.id, "channel_id": channel_id,
                             **({"guild_id": guild_id} if guild_id else {})}  # fmt: skip
                if ping:
                    mentioned[str(replied.author["id"])] = replied.author
            stored = Message(self._snowflake(), channel_id, content, author=author, type=19 if replied else 0,
                             message_reference=reference)  # fmt: skip
            self._messages[stored.id] = stored
            payload = self._render(stored)
            if replied is not None:
                payload["referenced_message"] = self._render(replied)
        payload["mentions"] = list(mentioned.values())
        if guild_id:
            payload.update(guild_id=guild_id, member={"roles": [], "joined_at": _now_iso(), "nick": None,
                           "deaf": False, "mute": False, "flags": 0, "pending": False})  # fmt: skip
        return payload

    def posted_with_files(
        self, files: list[tuple[str, bytes, str]], *, content: str = "", flags: int = 0,
        channel_id: str = CHANNEL_ID, author: JsonDict | None = None,
    ) -> str:  # fmt: skip
        """Store a message someone posted with attachments ``(filename, bytes, content type)``; its id.

        ``flags`` 1 << 13 (IS_VOICE_MESSAGE) with one ``audio/ogg`` file is a voice message.
        """
        with self.lock:
            attachments = [Attachment(self._snowflake(), name, data, kind) for name, data, kind in files]
            stored = Message(self._snowflake(), channel_id, content, attachments=attachments, flags=flags,
                             author=author or user_payload())  # fmt: skip
            self._messages[stored.id] = stored
        return stored.id

    def message_command(
        self, name: str, message_id: str, *, user_id: str = USER_ID, guild_id: str | None = GUILD_ID,
        locale: str = "en-US", installs: tuple[int, ...] = (GUILD_INSTALL,),
    ) -> JsonDict:  # fmt: skip
        """INTERACTION_CREATE data for the registered message context menu ``name`` on a stored message."""
        with self.lock:
            commands = [c for scope in (guild_id, None) for c in self._commands.get(scope, [])]
            command = next((dict(c) for c in commands if c["name"] == name and c["type"] == 3), None)
            message = self._messages[str(message_id)]
            rendered = self._render(message)
        if command is None:
            raise LookupError(f"no message command {name!r} is registered")
        data: JsonDict = {"id": command["id"], "name": name, "type": 3, "target_id": message.id,
                          "resolved": {"messages": {message.id: rendered}}}  # fmt: skip
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        context = GUILD if guild_id else BOT_DM
        return self._interaction(2, data, guild_id, message.channel_id, user_id, locale, context, installs)

    # ----- helpers -----
    def _snowflake_locked(self) -> str:
        with self.lock:
            return self._snowflake()

    def _invocable(
        self, name: str, guild_id: str | None, context: int, installs: tuple[int, ...]
    ) -> JsonDict:
        """The registered command a user would invoke here, or LookupError (Discord would not offer it)."""
        with self.lock:
            if guild_id and context == GUILD:
                for command in self._commands.get(guild_id, []):
                    if command["name"] == name and command["type"] == 1:
                        return dict(command)
            for command in self._commands.get(None, []):
                contexts = command.get("contexts") or [GUILD, BOT_DM, PRIVATE_CHANNEL]
                install_types = command.get("integration_types") or [GUILD_INSTALL]
                if command["name"] == name and context in contexts and set(installs) & set(install_types):
                    return dict(command)
        raise LookupError(f"Discord would not offer /{name} in context {context} with installs {installs}")

    def _interaction(self, kind: int, data: JsonDict, guild_id: str | None, channel_id: str | None, user_id: str,
                     locale: str, context: int, installs: tuple[int, ...], message: JsonDict | None = None,
                     ) -> JsonDict:  # fmt: skip
        user = user_payload(user_id)
        owners = {}
        if GUILD_INSTALL in installs:
            owners["0"] = guild_id or "0"
        if USER_INSTALL in installs:
            owners["1"] = user_id
        channel_id = channel_id or (self._guild_channel(guild_id) if guild_id else str(int(user_id) + 7))
        channel: JsonDict = (
            {"id": channel_id, "type": 0, "guild_id": guild_id, "name": "general", "position": 0, "nsfw": False,
             "permission_overwrites": [], "parent_id": None, "topic": None, "last_message_id": None,
             "rate_limit_per_user": 0, "flags": 0, "permissions": MEMBER_PERMISSIONS}
            if guild_id else {"id": channel_id, "type": 1, "recipients": [user], "last_message_id": None, "flags": 0}
        )  # fmt: skip
        payload: JsonDict = {
            "id": self._snowflake_locked(), "application_id": self.application_id, "type": kind, "data": data,
            "channel_id": channel_id, "channel": channel, "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(120),
            "version": 1, "locale": locale, "app_permissions": BOT_PERMISSIONS, "entitlements": [],
            "authorizing_integration_owners": owners, "context": context,
            "attachment_size_limit": self.attachment_size_limit,
        }  # fmt: skip
        if guild_id:
            payload.update(guild_id=guild_id, guild_locale="en-US", guild={"id": guild_id, "locale": "en-US",
                           "features": []}, member={"user": user, "roles": [], "joined_at": _now_iso(), "nick": None,
                           "avatar": None, "flags": 0, "deaf": False, "mute": False, "pending": False,
                           "premium_since": None, "permissions": MEMBER_PERMISSIONS})  # fmt: skip
        else:
            payload["user"] = user
        if message is not None:
            payload["message"] = message
        with self.lock:
            self._register_payload(payload)
        return payload

    def _register_payload(self, payload: JsonDict) -> None:
        """Track an INTERACTION_CREATE payload's id and token (lock held); keep its message if new."""
        message = payload.get("message") or {}
        if message.get("id") and message["id"] not in self._messages:
            stored = Message(str(message["id"]), str(message.get("channel_id") or payload.get("channel_id")),
                             message.get("content", ""), components=message.get("components", []),
                             flags=message.get("flags", 0), author=message.get("author") or self._bot_user)  # fmt: skip
            self._messages[stored.id] = stored
        owners = payload.get("authorizing_integration_owners") or {}
        self._register(Interaction(
            str(payload["id"]), payload["token"], int(payload["type"]), str(payload.get("channel_id", "")),
            payload.get("guild_id"), self.now(), user_install_only=set(owners) == {"1"},
            message_id=message.get("id")))  # fmt: skip

    def _shard_guilds(self, shard: list[int] | None) -> list[str]:
        """The guilds a shard [id, count] gets: (guild_id >> 22) % count == id (events/gateway.mdx)."""
        return [g for g in self.guild_ids if shard is None or (int(g) >> 22) % shard[1] == shard[0]]

    def _ready(self, session_id: str, shard: list[int] | None, *, resume_url: str, flags: int) -> JsonDict:
        """READY data: the bot user, the shard's guilds (unavailable until GUILD_CREATE), the application."""
        ready: JsonDict = {
            "v": 10, "user": {**self._bot_user, "verified": True, "mfa_enabled": False}, "session_id": session_id,
            "guilds": [{"id": g, "unavailable": True} for g in self._shard_guilds(shard)],
            "resume_gateway_url": resume_url, "session_type": "normal", "private_channels": [],
            "relationships": [], "presences": [], "guild_join_requests": [], "geo_ordered_rtc_regions": [],
            "user_settings": {}, "application": {"id": self.application_id, "flags": flags},
        }  # fmt: skip
        return {**ready, "shard": shard} if shard else ready

    def _guild_channel(self, guild_id: str) -> str:
        """The text channel each fake guild has: CHANNEL_ID for GUILD_ID, else the guild id + 1."""
        return CHANNEL_ID if guild_id == GUILD_ID else str(int(guild_id) + 1)

    def _guild_payload(self, guild_id: str) -> JsonDict:
        """GUILD_CREATE data: one @everyone role, one text channel, the bot as a member."""
        joined = _now_iso()
        channel = {"id": self._guild_channel(guild_id), "type": 0, "name": "general", "position": 0, "nsfw": False,
                   "permission_overwrites": [], "parent_id": None, "topic": None, "last_message_id": None,
                   "rate_limit_per_user": 0, "flags": 0}  # fmt: skip
        everyone = {"id": guild_id, "name": "@everyone", "permissions": MEMBER_PERMISSIONS, "position": 0, "color": 0,
                    "hoist": False, "managed": False, "mentionable": False, "flags": 0}  # fmt: skip
        return {"id": guild_id, "name": f"Fake Guild {guild_id[-3:]}", "icon": None, "owner_id": USER_ID,
                "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 0,
                "explicit_content_filter": 0, "roles": [everyone], "emojis": [], "stickers": [], "features": [],
                "mfa_level": 0, "system_channel_id": None, "premium_tier": 0, "preferred_locale": "en-US",
                "nsfw_level": 0, "unavailable": False, "member_count": 2, "large": False, "joined_at": joined,
                "members": [{"user": self._bot_user, "roles": [], "joined_at": joined, "deaf": False, "mute": False,
                             "flags": 0}], "channels": [channel], "threads": [], "voice_states": [], "presences": [],
                "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": []}  # fmt: skip
