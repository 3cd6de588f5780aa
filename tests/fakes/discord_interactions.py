"""The routes behind what a user sees: commands, interaction responses, follow-ups, channel messages.

Mixed into `FakeDiscordAPI`; every handler runs with `lock` held and raises `ApiError` for Discord's
error answers. Interaction rules (interactions/receiving-and-responding.mdx):

- one initial response per interaction (a second: 400 / 40060), within 3 s of the interaction's
  creation (later: 404 / 10062 Unknown interaction, and the token never becomes usable);
- the token works for webhook calls (edit/delete @original, follow-ups) for 15 minutes after the
  interaction was created (later: 401 / 50027 Invalid Webhook Token, as seen in
  discord/discord-api-docs#6851); before the interaction is acknowledged: 404 / 10015 Unknown Webhook;
- a follow-up sent while a deferred (type 5) response is still loading edits that loading message
  instead of creating one ("for backwards compatibility", Create Followup Message);
- at most 5 follow-ups when only a user install authorized the interaction (40094).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import TYPE_CHECKING, Any

from .discord_limits import (
    ALREADY_ACKNOWLEDGED,
    EMPTY_MESSAGE,
    FOLLOWUPS_MAXED,
    INVALID_WEBHOOK_TOKEN,
    ApiError,
    FormErrors,
    check_commands,
    check_message,
    unknown,
)
from .discord_state import (
    BOT_USER,
    CALLBACK,
    CREATE_MESSAGE,
    DELETE_FOLLOWUP,
    DELETE_MESSAGE,
    DELETE_ORIGINAL,
    EDIT_FOLLOWUP,
    EDIT_MESSAGE,
    EDIT_ORIGINAL,
    EPHEMERAL,
    FOLLOWUP,
    GET_FOLLOWUP,
    GET_MESSAGE,
    GET_ORIGINAL,
    GLOBAL_COMMANDS,
    GUILD_COMMANDS,
    LOADING,
    Attachment,
    DiscordState,
    Interaction,
    Message,
    Upload,
)

if TYPE_CHECKING:
    from .discord_api import Handler, Request

JsonDict = dict[str, Any]
CALLBACK_DEADLINE = 3.0
TOKEN_LIFETIME = 15 * 60.0
USER_INSTALL_FOLLOWUPS_MAX = 5
SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS, COMPONENTS_V2 = 1 << 2, 1 << 12, 1 << 15
CHANNEL_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | COMPONENTS_V2  # what a new message may set
EDIT_FLAGS = SUPPRESS_EMBEDS | COMPONENTS_V2  # what an edit may change
# callback types an interaction type accepts: 4 message, 5 deferred, 6 deferred update, 7 update,
# 8 autocomplete result, 9 modal, 12 launch activity
CALLBACK_TYPES = {2: {4, 5, 9, 12}, 3: {4, 5, 6, 7, 9, 12}, 4: {8}, 5: {4, 5, 6, 7, 12}}
Answer = tuple[int, Any]


class InteractionRoutes(DiscordState):
    """Command, interaction and message routes of `FakeDiscordAPI` (needs its configuration attributes)."""

    application_id: str
    guild_ids: tuple[str, ...]
    _links_base = ""  # base URL of attachment links, set by start()

    @property
    def _bot_user(self) -> JsonDict:
        return {**BOT_USER, "id": self.application_id}

    def _command_routes(self) -> list[tuple[str, Handler]]:
        return [(f"PUT {GLOBAL_COMMANDS}", self._put_commands), (f"GET {GLOBAL_COMMANDS}", self._get_commands),
                (f"PUT {GUILD_COMMANDS}", self._put_commands), (f"GET {GUILD_COMMANDS}", self._get_commands)]  # fmt: skip

    def _interaction_routes(self) -> list[tuple[str, Handler]]:
        return [(CALLBACK, self._callback), (GET_ORIGINAL, self._get_original), (EDIT_ORIGINAL, self._edit_original),
                (DELETE_ORIGINAL, self._delete_original), (FOLLOWUP, self._followup),
                (GET_FOLLOWUP, self._get_followup), (EDIT_FOLLOWUP, self._edit_followup),
                (DELETE_FOLLOWUP, self._delete_followup)]  # fmt: skip

    def _message_routes(self) -> list[tuple[str, Handler]]:
        return [(CREATE_MESSAGE, self._create_message), (GET_MESSAGE, self._get_message),
                (EDIT_MESSAGE, self._edit_message), (DELETE_MESSAGE, self._delete_message)]  # fmt: skip

    # ----- application commands -----
    def _command_scope(self, req: Request) -> str | None:
        if req.params["application_id"] != self.application_id:
            raise ApiError(403, 20012, "You are not authorized to perform this action on this application")
        guild = req.params.get("guild_id")
        if guild is not None and guild not in self.guild_ids:
            raise ApiError(403, 50001, "Missing Access")
        return guild

    def _put_commands(self, req: Request) -> Answer:
        scope = self._command_scope(req)
        if not isinstance(req.json, list):
            raise ApiError(400, 50035, "Invalid Form Body", {"_errors": [{"code": "BASE_TYPE_ARRAY",
                                                                         "message": "Must be an array."}]})  # fmt: skip
        check_commands(req.json)
        old = {(c["type"], c["name"]): c for c in self._commands.get(scope, [])}
        stored = []
        for command in req.json:
            kind = command.get("type", 1)
            previous = old.get((kind, command.get("name")))
            stored.append({**copy.deepcopy(command), "type": kind, "application_id": self.application_id,
                           "id": previous["id"] if previous else self._snowflake(), "version": self._snowflake(),
                           **({"guild_id": scope} if scope else {}),
                           "default_member_permissions": command.get("default_member_permissions"),
                           "nsfw": bool(command.get("nsfw")), "options": command.get("options") or [],
                           "description": command.get("description") or ""})  # fmt: skip  # "" for a context menu
        self._commands[scope] = stored
        return 200, copy.deepcopy(stored)

    def _get_commands(self, req: Request) -> Answer:
        return 200, copy.deepcopy(self._commands.get(self._command_scope(req), []))

    # ----- the message store -----
    def _new_message(
        self, channel_id: str, payload: JsonDict, files: list[Upload], *, ephemeral_ok: bool, **fields: Any
    ) -> Message:
        message = Message(self._snowflake(), channel_id, author=self._bot_user, **fields)
        message.flags = int(payload.get("flags") or 0) & (CHANNEL_FLAGS | (EPHEMERAL if ephemeral_ok else 0))
        message = self._write(message, payload, files)
        self._messages[message.id] = message
        return message

    def _edit(self, message: Message, payload: JsonDict, files: list[Upload]) -> Message:
        edited = self._write(message, payload, files)
        if "flags" in payload:  # ephemeral stays as it was
            edited.flags = (edited.flags & ~EDIT_FLAGS) | (int(payload["flags"] or 0) & EDIT_FLAGS)
        edited.edits, edited.edited = edited.edits + 1, time.time()
        self._messages[edited.id] = edited
        return edited

    def _write(self, message: Message, payload: JsonDict, files: list[Upload]) -> Message:
        """The message with the payload applied (a copy; nothing is stored if it is refused)."""
        check_message(payload)
        out = dataclasses.replace(
            message, attachments=list(message.attachments), flags=message.flags & ~LOADING
        )
        if "content" in payload:
            out.content = payload["content"] or ""
        for key in ("embeds", "components"):
            if key in payload:
                setattr(out, key, copy.deepcopy(payload[key] or []))
        if "allowed_mentions" in payload:
            out.allowed_mentions = copy.deepcopy(payload["allowed_mentions"])
        out.attachments = self._attachments(message, payload, files)
        if not (out.content or out.embeds or out.components or out.attachments):
            raise ApiError(*EMPTY_MESSAGE)
        return out

    def _attachments(self, message: Message, payload: JsonDict, files: list[Upload]) -> list[Attachment]:
        """Kept and new attachments: `attachments` lists what stays (files by their n), else all are added."""
        uploads = {f.field[len("files[") : -1]: f for f in files}
        if "attachments" not in payload:
            new = [Attachment(self._snowflake(), f.filename, f.data, f.content_type) for f in files]
            return [*message.attachments, *new]
        kept, errors = [], FormErrors()
        existing = {a.id: a for a in message.attachments}
        for index, entry in enumerate(payload["attachments"] or []):
            key = str(entry.get("id"))
            if key in uploads:
                upload = uploads[key]
                kept.append(Attachment(self._snowflake(), entry.get("filename") or upload.filename, upload.data,
                                       upload.content_type, entry.get("description")))  # fmt: skip
            elif key in existing:
                kept.append(existing[key])
            else:
                errors.add(("attachments", index, "id"), "ATTACHMENT_NOT_FOUND", "Unknown attachment")
        errors.raise_if_any()
        return kept

    def _render(self, message: Message) -> JsonDict:
        return message.to_api(self._links_base)

    # ----- interactions -----
    def _callback(self, req: Request) -> Answer:
        interaction = self._interactions.get(req.params["webhook_id"])
        if interaction is None or interaction.token != req.params["webhook_token"]:
            raise unknown("interaction", 10062)
        age = self.now() - interaction.created
        if interaction.response_type is not None:
            raise ApiError(*ALREADY_ACKNOWLEDGED)
        if age > CALLBACK_DEADLINE:
            raise unknown("interaction", 10062)
        kind, data = int(req.payload.get("type") or 0), req.payload.get("data") or {}
        allowed = CALLBACK_TYPES.get(interaction.type, set())
        if kind not in allowed:
            errors = FormErrors()
            errors.add(("type",), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}.")
            errors.raise_if_any()
        message = self._respond(interaction, kind, data, req.files)
        interaction.response_type = kind
        if str(req.query.get("with_response", "")).lower() not in ("1", "true"):
            return 204, None
        return 200, self._callback_response(interaction, kind, message)

    def _respond(
        self, interaction: Interaction, kind: int, data: JsonDict, files: list[Upload]
    ) -> Message | None:
        app, source = self.application_id, interaction.id
        kind_of_message = 20 if interaction.type == 2 else 0  # 20: the answer to a slash command
        if kind == 4:
            message = self._new_message(interaction.channel_id, data, files, ephemeral_ok=True, type=kind_of_message,
                                        webhook_id=app, interaction_id=source)  # fmt: skip
        elif kind == 5:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            message = Message(self._snowflake(), interaction.channel_id, flags=flags, type=kind_of_message,
                              author=self._bot_user, webhook_id=app, interaction_id=source)  # fmt: skip
            self._messages[message.id] = message
        elif kind in (6, 7) and interaction.message_id in self._messages:
            message = self._messages[interaction.message_id]
            message = self._edit(message, data, files) if kind == 7 else message
        else:
            return None
        interaction.original_id = message.id
        return message

    def _callback_response(self, interaction: Interaction, kind: int, message: Message | None) -> JsonDict:
        info: JsonDict = {"id": interaction.id, "type": interaction.type}
        if message is not None and kind in (4, 5):
            info.update(response_message_id=message.id, response_message_loading=message.loading,
                        response_message_ephemeral=message.ephemeral)  # fmt: skip
        resource: JsonDict = {"type": kind}
        if message is not None and kind in (4, 7):
            resource["message"] = self._render(message)
        return {"interaction": info, "resource": resource}

    def _token_interaction(self, req: Request) -> Interaction:
        """The interaction behind /webhooks/{application}/{token}, if its token is usable now."""
        if req.params["webhook_id"] != self.application_id:
            raise unknown("Webhook", 10015)
        interaction = self._interactions.get(self._tokens.get(req.params["webhook_token"], ""))
        if interaction is None or self.now() - interaction.created > TOKEN_LIFETIME:
            raise ApiError(*INVALID_WEBHOOK_TOKEN)
        if interaction.response_type is None:
            raise unknown("Webhook", 10015)
        return interaction

    def _token_message(self, req: Request, message_id: str | None) -> Message:
        interaction = self._token_interaction(req)
        ours = message_id in (interaction.original_id, *interaction.followups)
        message = self._messages.get(message_id or "") if ours else None
        if message is None or message.deleted:
            raise unknown("Message", 10008)
        return message

    def _original_id(self, req: Request) -> str | None:
        return self._token_interaction(req).original_id

    def _get_original(self, req: Request) -> Answer:
        return 200, self._render(self._token_message(req, self._original_id(req)))

    def _edit_original(self, req: Request) -> Answer:
        message = self._token_message(req, self._original_id(req))
        return 200, self._render(self._edit(message, req.payload, req.files))

    def _delete_original(self, req: Request) -> Answer:
        self._token_message(req, self._original_id(req)).deleted = True
        return 204, None

    def _followup(self, req: Request) -> Answer:
        interaction = self._token_interaction(req)
        original = self._messages.get(interaction.original_id or "")
        if original is not None and original.loading and not original.deleted:
            return 200, self._render(self._edit(original, req.payload, req.files))
        if interaction.user_install_only and len(interaction.followups) >= USER_INSTALL_FOLLOWUPS_MAX:
            raise ApiError(*FOLLOWUPS_MAXED)
        message = self._new_message(interaction.channel_id, req.payload, req.files, ephemeral_ok=True,
                                    webhook_id=self.application_id, interaction_id=interaction.id)  # fmt: skip
        interaction.followups.append(message.id)
        return 200, self._render(message)

    def _get_followup(self, req: Request) -> Answer:
        return 200, self._render(self._token_message(req, req.params["message_id"]))

    def _edit_followup(self, req: Request) -> Answer:
        message = self._token_message(req, req.params["message_id"])
        return 200, self._render(self._edit(message, req.payload, req.files))

    def _delete_followup(self, req: Request) -> Answer:
        self._token_message(req, req.params["message_id"]).deleted = True
        return 204, None

    # ----- channel messages -----
    def _channel_message(self, req: Request) -> Message:
        message = self._messages.get(req.params["message_id"])
        if (
            message is None
            or message.deleted
            or message.ephemeral
            or message.channel_id != req.params["channel_id"]
        ):
            raise unknown("Message", 10008)
        return message

    def _create_message(self, req: Request) -> Answer:
        """A channel message; a reply to a message gone is refused, or, with fail_if_not_exists false,
        sent as a plain message (resources/message.mdx, "Message Reference Structure")."""
        payload, channel = req.payload, req.params["channel_id"]
        reference = payload.get("message_reference")
        if reference:
            ref = self._messages.get(str(reference.get("message_id")))
            if ref is None or ref.deleted or ref.channel_id != str(reference.get("channel_id") or channel):
                if reference.get("fail_if_not_exists", True):
                    errors = FormErrors()
                    errors.add(("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                    errors.raise_if_any()
                reference = None
            else:  # as Discord returns it: snowflakes as strings
                reference = {
                    "type": int(reference.get("type") or 0),
                    "message_id": ref.id,
                    "channel_id": channel,
                }
        message = self._new_message(channel, payload, req.files, ephemeral_ok=False,
                                    message_reference=reference, type=19 if reference else 0)  # fmt: skip
        return 200, self._render(message)

    def _get_message(self, req: Request) -> Answer:
        return 200, self._render(self._channel_message(req))

    def _edit_message(self, req: Request) -> Answer:
        message = self._channel_message(req)
        if message.author.get("id") != self.application_id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        return 200, self._render(self._edit(message, req.payload, req.files))

    def _delete_message(self, req: Request) -> Answer:
        self._channel_message(req).deleted = True
        return 204, None
