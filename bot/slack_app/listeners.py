"""The Slack platform: one Bolt ``AsyncApp`` with every listener registered in one place.

Listeners translate Slack payloads into a neutral :class:`~handlers.port.Command`,
acknowledge within Slack's 3 seconds, then run the shared handler with a
:class:`~bot.slack_app.reply.SlackReply`. One error handler turns our errors into
a private message to the person who asked; no traceback reaches Slack. Everything is
said in the user's language (their Slack locale, looked up after the ack:
:mod:`~bot.slack_app.user_locales`), else ``BOT_LOCALE``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import ConfigError
from bot.slack_app import render
from bot.slack_app.ack import AFTER_ACK
from bot.slack_app.audio_files import audio_of, file_hosts
from bot.slack_app.payloads import (
    from_click,
    from_message,
    from_message_action,
    from_page_click,
    from_slash_command,
    place_of,
)
from bot.slack_app.reply import UNREACHABLE, Respond, SlackPlace, SlackReply, send_ephemeral
from bot.slack_app.stream import SlackStreamer
from bot.slack_app.user_groups import UserGroups
from bot.slack_app.user_locales import UserLocales
from bot.work import BackgroundWork
from core.errors import BotError
from core.messages import text
from core.store.base import DELIVERY_TTL
from handlers.failures import unexpected, user_message
from handlers.port import Command, Reply, Services
from handlers.registry import BOARD_CLICK, HANDLERS, HISTORY_CLICK, MESSAGE_COMMAND, TRANSCRIBE, policy

_log = logging.getLogger(__name__)
_Request = TypeVar("_Request")
COMMANDS = tuple(HANDLERS)
TRANSCRIBE_SHORTCUT = "transcribe"
"""The callback id of the Transcribe message shortcut (slack-manifest.json)."""
DM_CONVERSATION = "dm"
"""In a DM every message continues one conversation, threaded or not."""


async def build_app(
    client: AsyncWebClient,
    request_client: AsyncWebClient,
    signing_secret: str,
    services: Services,
    streamer: SlackStreamer,
    session: aiohttp.ClientSession,
) -> tuple[AsyncApp, SlackListeners]:
    """The Bolt app for one workspace token, and its listeners (to drain on shutdown).

    The token (``client``'s) is checked once, here (``auth.test``): a bad token stops
    start-up with one line, and a burst of first requests does not wait on an
    ``auth.test`` each. Bolt gives every request a copy of ``request_client``
    (same session, no token of its own) with the token from that check; our
    listeners ignore it and call Slack only through ``client``, whose calls are
    paced by Slack's limits (:class:`~bot.slack_app.limits.PacedWebClient`).
    Files are downloaded on ``session``, the composition root's.
    """
    try:
        identity = await client.auth_test()
    except SlackApiError as exc:
        raise ConfigError(f"SLACK_BOT_TOKEN was refused by Slack: {exc.response.get('error')}") from exc
    except UNREACHABLE as exc:
        reason = str(getattr(exc, "os_error", None) or exc) or type(exc).__name__
        raise ConfigError(f"SLACK_API_URL {client.base_url} cannot be reached: {reason}") from exc
    authorized = AuthorizeResult.from_auth_test_response(auth_test_response=identity, bot_token=client.token)

    async def authorize() -> AuthorizeResult:
        return authorized

    bolt_log = logging.getLogger("bot.slack.bolt")
    bolt_log.addFilter(_not_the_token_warning)  # the same function each time: added once
    app = AsyncApp(
        client=request_client,
        authorize=authorize,
        signing_secret=signing_secret,
        process_before_response=True,  # listeners return at once; their work runs in tasks (_start)
        logger=bolt_log,
    )
    return app, register(app, services, streamer, client, session)


def _not_the_token_warning(record: logging.LogRecord) -> bool:
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and, given our client too, warns
    that the token "will be unused"; it is used, by ``client``, so the line only misleads."""
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


def register(
    app: AsyncApp,
    services: Services,
    streamer: SlackStreamer,
    client: AsyncWebClient,
    session: aiohttp.ClientSession,
) -> SlackListeners:
    """Every Slack listener, in one place; they all talk to Slack through ``client``, download on ``session``."""
    listen = SlackListeners(services, streamer, client, session)
    for name in COMMANDS:
        app.command(f"/{name}")(listen.slash_command)
    app.action(render.MOVE_ACTION)(listen.janken_button)
    app.action(render.AGAIN_ACTION)(listen.janken_button)
    app.action(render.HISTORY_ACTIONS)(listen.history_button)
    app.shortcut(TRANSCRIBE_SHORTCUT)(listen.transcribe)
    app.event("app_mention")(listen.mention)
    app.event("message")(listen.direct_message)
    app.error(listen.error)
    return listen


class SlackListeners:
    """Bolt listeners: acknowledge, translate, and start the shared handler in the background.

    Bolt answers Slack as soon as a listener returns, so each returns right after its
    ack; the work runs in a task of its own, remembered so a shutdown can let it finish.
    """

    def __init__(
        self,
        services: Services,
        streamer: SlackStreamer,
        client: AsyncWebClient,
        session: aiohttp.ClientSession,
    ) -> None:
        self._services = services
        self._streamer = streamer
        self._client = client
        self._session = session
        self._groups = UserGroups(client)
        self._locales = UserLocales(client)
        self._file_hosts = file_hosts(client.base_url)
        self._work = BackgroundWork()

    def _start(
        self,
        work: Callable[[], Awaitable[None]],
        context: AsyncBoltContext,
        body: dict[str, Any],
        respond: Respond | None = None,
    ) -> None:
        """Run ``work`` once the ack is out; its failure goes to the one error handler.

        Everything after the ack happens in ``work``, reading the payload included:
        Bolt would answer Slack with a 500 for an exception in the listener itself.
        """
        turn = context.get(AFTER_ACK)

        async def after_ack() -> None:
            if turn is not None:
                await turn.wait()
            await work()

        async def on_error(exc: Exception) -> None:
            await self.tell(exc, body, respond, look_up=True)

        self._work.start(after_ack, on_error)

    async def drain(self, timeout: float = 20.0) -> None:
        """Give answers in progress (and any started meanwhile) up to ``timeout`` seconds to finish."""
        await self._work.drain(timeout)

    def _reply(self, place: SlackPlace, respond: Respond | None = None) -> SlackReply:
        return SlackReply(self._client, place, self._streamer, respond)

    async def _locale(self, team: str, user: str) -> str:
        """The user's language (one ``users.info`` call an hour at most), else ``BOT_LOCALE``'s.

        Called in the work after the ack: the lookup may take a Slack call.
        """
        return await self._locales.of(team, user) or self._services.locale

    async def _about_user(self, place: SlackPlace, command: Command) -> tuple[SlackPlace, Command]:
        """``place`` and ``command`` with what the handlers need to know of the user: their
        language, and their groups when ``ALLOWED_ROLES`` needs them (after the ack: Slack calls)."""
        place, command = await self._in_language(place, command)
        return place, await self._with_roles(command)

    async def _in_language(self, place: SlackPlace, command: Command) -> tuple[SlackPlace, Command]:
        """``place`` and ``command`` in the user's language."""
        locale = await self._locale(place.team, place.user)
        return replace(place, locale=locale), replace(command, locale=locale)

    def _ack_locale(self, body: dict[str, Any]) -> str:
        """The language for an acknowledgement: the user's if already known (no Slack call before an ack)."""
        team, user = body.get("team_id"), body.get("user_id")
        known = self._locales.known(team, user) if isinstance(team, str) and isinstance(user, str) else None
        return known or self._services.locale

    async def _with_roles(self, command: Command) -> Command:
        """``command`` with the user's groups when ``ALLOWED_ROLES`` needs them; the registry checks.

        Called in the work after the ack: the groups may take a Slack call.
        """
        if not self._services.limits.allowed_roles:
            return command
        return replace(command, roles=await self._groups.of(command.user))

    async def slash_command(
        self,
        ack: Any,
        body: dict[str, Any],
        context: AsyncBoltContext,
        respond: Respond,
    ) -> None:
        name = body["command"].lstrip("/")
        thinking = policy(name).thinking_note
        if thinking:
            await ack(response_type="ephemeral", text=text("thinking", self._ack_locale(body)))
        else:
            await ack()

        async def work() -> None:
            place, command = from_slash_command(body)
            try:
                place, command = await self._about_user(place, command)
                await HANDLERS[name](command, self._reply(place, respond), self._services)
            finally:
                if thinking:
                    await _dismiss(respond)

        self._start(work, context, body, respond)

    async def janken_button(
        self,
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        respond: Respond,
    ) -> None:
        """A move or "play again" on a board: one round (or one new game) per click."""
        await ack()
        self._click(body, context, respond, lambda: from_click(body, action), BOARD_CLICK)

    async def history_button(
        self,
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        respond: Respond,
    ) -> None:
        """Older, newer or delete under a private /history page."""
        await ack()
        self._click(body, context, respond, lambda: from_page_click(body, action), HISTORY_CLICK)

    def _click(
        self,
        body: dict[str, Any],
        context: AsyncBoltContext,
        respond: Respond,
        translate: Callable[[], tuple[SlackPlace, Command, _Request]],
        handler: Callable[[_Request, Command, Reply, Services], Awaitable[object]],
    ) -> None:
        """Run ``handler`` on what a button carries once the ack is out, once per click across
        processes (Slack may deliver a click to more than one)."""

        async def work() -> None:
            if not await self._first_delivery(click_key(body)):
                return
            place, command, request = translate()
            place, command = await self._about_user(place, command)
            await handler(request, command, self._reply(place, respond), self._services)

        self._start(work, context, body, respond)

    async def transcribe(
        self,
        ack: Any,
        body: dict[str, Any],
        context: AsyncBoltContext,
        respond: Respond,
    ) -> None:
        """The Transcribe message shortcut: the message's audio file, transcribed into its thread."""
        await ack()

        async def work() -> None:
            place, command = from_message_action(body)
            place, command = await self._about_user(place, command)
            request = await audio_of(body["message"], self._client, self._session, self._file_hosts)
            await TRANSCRIBE(request, command, self._reply(place, respond), self._services)

        self._start(work, context, body, respond)

    async def mention(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
    ) -> None:
        self._start(lambda: self._ask(event, body), context, body)

    async def direct_message(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
    ) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        self._start(lambda: self._ask(event, body, DM_CONVERSATION), context, body)

    async def _first_delivery(self, key: str | None) -> bool:
        """Whether this is the first delivery of ``key`` to any process sharing the store.

        Slack redelivers an event it thinks we missed (same ``event_id``), possibly to
        another process behind the same request URL; the claim in the store answers it
        once, however many processes there are. Called inside the started work, so a store
        failure reaches the one error handler and the ack stays fast. ``None`` (a payload
        without an id) is always a first delivery.
        """
        if key is None or await self._services.store.claim(key, ttl=DELIVERY_TTL):
            return True
        _log.info("ignoring a repeated delivery %s", key)
        return False

    async def _ask(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        conversation: str | None = None,
    ) -> None:
        if not await self._first_delivery(event_key(body)):
            return
        place, command = from_message(event, team=body["team_id"], conversation=conversation)
        place, command = await self._about_user(place, command)
        await HANDLERS[MESSAGE_COMMAND](command, self._reply(place), self._services)

    async def error(self, error: Exception, body: dict[str, Any], respond: Respond | None = None) -> None:
        """Bolt's error handler: a listener itself failed, perhaps before its ack, so no Slack call
        may delay that ack to learn the user's language."""
        await self.tell(error, body, respond, look_up=False)

    async def tell(
        self, error: Exception, body: dict[str, Any], respond: Respond | None = None, *, look_up: bool
    ) -> None:
        """The one place our errors become Slack messages: privately, to whoever asked, in their language.

        ``look_up``: the ack is out, so the language may be asked of Slack if it is not known yet.
        """
        if unexpected(error):
            _log.error("listener failed", exc_info=error)
        else:
            _log.info("answered with %s: %s", type(error).__name__, error)
        place = place_of(body)
        if place is None:
            return
        if look_up:
            locale = await self._locale(place.team, place.user)
        else:
            locale = self._locales.known(place.team, place.user) or self._services.locale
        try:
            await send_ephemeral(self._client, place, user_message(error, locale), respond)
        except BotError as failed:  # Slack itself is failing: the log is all that is left
            _log.warning("could not tell %s about an error: %s", place.user, failed)


def event_key(body: dict[str, Any]) -> str | None:
    """An Events API delivery's claim key: Slack's ``event_id``, the same on every retry."""
    event_id = body.get("event_id")
    return f"slack:event:{body.get('team_id', '')}:{event_id}" if event_id else None


def click_key(body: dict[str, Any]) -> str | None:
    """A click's claim key: its ``trigger_id``, unique per click and the same on a second delivery.

    Two clicks on one button are two deliveries (the store's move ids make them play one
    round); one click delivered to two processes is one, and edits the board once.
    """
    trigger = body.get("trigger_id")
    team = (body.get("team") or {}).get("id", "")
    return f"slack:click:{team}:{trigger}" if trigger else None


async def _dismiss(respond: Respond) -> None:
    """Remove the private "Thinking…" note once the answer (or its error) is on its way."""
    try:
        await respond(delete_original=True)
    except Exception:  # noqa: BLE001 - the note is cosmetic; its removal must not hide the real outcome
        _log.warning("could not remove the thinking note", exc_info=True)
