"""A signed Slack request as Bolt will read it: its payload's shape, and its form read as sent.

Bolt reads some fields of a payload on trust before any listener runs (the first action's
``action_id``, ``event``, ``view``, ...); a signed payload where one has another shape would
make it answer 500 and post an apology to ``response_url``. :func:`misshapen` names such
fields, so the front door (:mod:`bot.slack_app.server`) refuses the request with a 400
first. :class:`SlackRequest` reads a form that merely mentions "payload" as the form it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest


def _object(value: Any) -> bool:
    return isinstance(value, dict)


def _objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _or_null(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """``check``, or null, where Bolt takes a null for an absent field."""
    return lambda value: value is None or check(value)


def _enterprise(value: Any) -> bool:
    return value is None or isinstance(value, (str, dict))


def _event(value: Any) -> bool:
    """An object, whose ``function`` (a ``function_executed`` event's) is an object too."""
    return isinstance(value, dict) and isinstance(value.get("function", {}), dict)


def _view(value: Any) -> bool:
    """An object with a ``type``, as every Slack view has."""
    return isinstance(value, dict) and "type" in value


def _some(value: Any) -> bool:
    """A non-empty list of objects."""
    return bool(value) and _objects(value)


def _block_actions(value: Any) -> bool:
    """At least one action, each an object with a string ``action_id``."""
    return _some(value) and all(_text(action.get("action_id")) for action in value)


PAYLOAD_SHAPE: dict[str, Callable[[Any], bool]] = {
    # read as Bolt builds its request and context (request/internals.py: extract_*)
    "team": _or_null(_object),
    "user": _or_null(_object),
    "channel": _or_null(_object),
    "enterprise": _enterprise,
    "authorizations": _or_null(_objects),  # authorizations[0].get(...)
    "response_urls": _objects,  # response_urls[0].get(...)
    "response_url": _text,  # respond() posts to it
    # read by its middleware, listener matchers and argument injection, and its log of an
    # unhandled request (request/payload_utils.py, listener_matcher/builtins.py, logger/messages.py)
    "event": _event,  # "type" in body["event"], body.get("event", {}).get(...)
    "view": _view,  # "callback_id" in body["view"], body["view"]["type"], view.get(...)
    "actions": _objects,
    "callback_id": _or_null(_text),  # searched with our action pattern
    "action_id": _or_null(_text),  # a block_suggestion's, concatenated into the log line
    # holders of fields our translators (payloads.py) check
    "message": _or_null(_object),
    "container": _or_null(_object),
}
"""Where present, what these top-level fields must be: the shape Slack gives them.

Bolt reads them on trust before our listeners run: a signed payload of another shape fails
inside its dispatch, a 500, and its error handler answers the payload's ``response_url``.
The door refuses it instead (:func:`misshapen`), with 400 and one log line.
"""
REQUIRED: dict[str, dict[str, Callable[[Any], bool]]] = {
    "block_actions": {"actions": _block_actions},  # body["actions"][0]["action_id"], in a regex
    "interactive_message": {"actions": _some},  # body["actions"][0]
    "workflow_step_edit": {"workflow_step": _object},  # body["workflow_step"]
}
"""The fields a payload of each ``type`` must have, as Slack sends them, where Bolt reads them
without looking. Only a block_actions payload's actions have an ``action_id`` (an attachment's
legacy actions have a ``name``, and Bolt reads none there)."""


def misshapen(body: dict[str, Any]) -> list[str]:
    """The fields of ``body`` not of the shape Slack gives them (:data:`PAYLOAD_SHAPE`, :data:`REQUIRED`)."""
    wrong = [name for name, fits in PAYLOAD_SHAPE.items() if name in body and not fits(body[name])]
    kind = body.get("type")
    required = REQUIRED.get(kind, {}) if isinstance(kind, str) else {}
    view = body.get("view")
    if kind == "view_submission" and isinstance(view, dict) and view.get("type") == "workflow_step":
        required = {"workflow_step": _object}  # a workflow step's save: body["workflow_step"]
    wrong += [name for name, fits in required.items() if not fits(body.get(name))]
    return list(dict.fromkeys(wrong))


class SlackRequest(AsyncBoltRequest):
    """Bolt's request for an HTTP body, with a form read as the form it is.

    Bolt's ``parse_body`` takes any form whose text contains "payload" (``/ask what is a
    payload?``, a command from #payloads) for an interactive ``payload=…`` form, finds no
    ``payload`` field and reads an empty body: the command would be lost. A form without a
    ``payload`` field is handed to Bolt parsed; ``raw_body`` stays the bytes Slack signed, which
    Bolt checks again. JSON, and forms with a ``payload`` field, are Bolt's to read.
    """

    def __init__(
        self,
        *,
        body: str,
        query: str | dict[str, Sequence[str]] | None = None,
        headers: dict[str, str | Sequence[str]] | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(body=body, query=query, headers=headers, context=context)
        form = _plain_form(body, self.content_type)
        if form is not None:
            self.body = form
            self.context = build_async_context(AsyncBoltContext(context or {}), form)

    def to_copyable(self) -> SlackRequest:  # a copy (for a lazy listener) reads the body the same way
        return SlackRequest(
            body=self.raw_body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
        )


def _plain_form(body: str, content_type: str | None) -> dict[str, str] | None:
    """``body`` as a form, where Bolt would misread it (a form mentioning "payload" without
    a ``payload`` field); else None. Bolt reads a body as JSON when its media type is exactly
    ``application/json`` or it starts with ``{``, as a form otherwise."""
    if "payload" not in body or content_type == "application/json" or body.startswith("{"):
        return None
    form = dict(parse_qsl(body, keep_blank_values=True))
    return None if "payload" in form else form
