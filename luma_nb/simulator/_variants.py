"""The shapes the service's answers are seen to take, each one selectable.

``docs/api.md`` lists several shapes for one answer; a client must read them all, so the
simulator can produce each (``Simulator(variants=Variants(...))``, CLI ``--variant``). The
defaults are the shapes of the provider's own published examples where there are some:

=====================  ===========  ================================================================
knob                   default      other values
=====================  ===========  ================================================================
``error_success``      ``false``    ``true``: error envelopes also carry ``"success": false`` (the
                                    provider's published error examples carry only ``error`` and
                                    ``trace_id``)
``error_string``       ``false``    ``true``: ``"error": "<message>"``, a bare string without code
``ack``                ``trace``    the async acknowledgement: ``task_id`` (``{task_id}`` only, as
                                    the provider's guide shows), ``trace`` (``{task_id,
                                    trace_id}``), ``success`` (adds ``"success": true``), ``data``
                                    (``{data: {task_id}, trace_id}``), ``id`` (``{id}``)
``ack_status``         ``200``      ``202``
``success_trace_id``   ``true``     ``false``: success bodies carry no ``trace_id``
``queued``             ``missing``  a queued record's ``response``: ``missing`` (no key), ``null``,
                                    ``state`` (``{task_id, state: "queued"}``)
``running_state``      processing   the word of the running state after ``pending`` (any word,
                                    e.g. ``dreaming``)
``failed_state``       ``failed``   the word of a failed task (``error``, ``cancelled``...)
``top_level_state``    ``false``    ``true``: task records also carry ``state`` at the top level
``batch_count``        ``items``    ``total``: ``retrieve_batch``'s ``count`` is the number of
                                    tasks the account holds, not of the items answered
=====================  ===========  ================================================================

Text syntax (``Variants.parse``, ``--variant``): comma-separated ``key=value`` items, e.g.
``error_success=true,queued=null,ack=task_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

__all__ = ["Variants"]

AckShape = Literal["task_id", "trace", "success", "data", "id"]
QueuedShape = Literal["missing", "null", "state"]
CountShape = Literal["items", "total"]

_ACKS = ("task_id", "trace", "success", "data", "id")
_QUEUED = ("missing", "null", "state")
_COUNTS = ("items", "total")
# a running task must not read as finished, nor a failed one as running
_NOT_RUNNING = ("completed", "pending", "failed", "error", "cancelled", "canceled")
_NOT_FAILED = ("completed", "pending", "processing", "queued")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Variants:
    """Which of the service's answer shapes the simulator produces (see the module table).

    Raises ``ValueError`` on construction for a value outside the listed ones.
    """

    error_success: bool = False
    error_string: bool = False
    ack: AckShape = "trace"
    ack_status: int = 200
    success_trace_id: bool = True
    queued: QueuedShape = "missing"
    running_state: str = "processing"
    failed_state: str = "failed"
    top_level_state: bool = False
    batch_count: CountShape = "items"

    def __post_init__(self) -> None:
        for name in ("error_success", "error_string", "success_trace_id", "top_level_state"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")
        choices = {"ack": _ACKS, "queued": _QUEUED, "batch_count": _COUNTS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}")
        if self.ack_status not in (200, 202):
            raise ValueError("ack_status must be 200 or 202")
        for name, taken in (("running_state", _NOT_RUNNING), ("failed_state", _NOT_FAILED)):
            word = getattr(self, name)
            if not isinstance(word, str) or not word.strip() or word.lower() in taken:
                raise ValueError(f"{name} must be a word other than {', '.join(taken)}")

    @classmethod
    def parse(cls, text: str, base: Variants | None = None) -> Variants:
        """Variants from ``key=value,...`` on top of ``base`` (default: the defaults).

        Raises
        ------
        ValueError
            On an unknown key or a bad value; the message names the item.
        """
        kinds = {f.name: f.type for f in fields(cls)}
        changes: dict[str, Any] = {}
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            key, sep, value = (part.strip() for part in item.partition("="))
            key = key.lower().replace("-", "_")
            if not sep or key not in kinds:
                raise ValueError(f"unknown variant {item!r} (keys: {', '.join(kinds)})")
            if kinds[key] == "bool":
                if value.lower() not in (*_TRUE, *_FALSE):
                    raise ValueError(f"variant {item!r}: expected true or false")
                changes[key] = value.lower() in _TRUE
            elif kinds[key] == "int":
                try:
                    changes[key] = int(value)
                except ValueError:
                    raise ValueError(f"variant {item!r}: expected a number") from None
            else:
                changes[key] = value
        try:
            return replace(base or cls(), **changes)
        except ValueError as exc:
            raise ValueError(f"bad variant {text!r}: {exc}") from None

    def to_text(self) -> str:
        """The variants in the text syntax (only what differs from the defaults)."""
        default = Variants()
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                out.append(f"{f.name}={str(value).lower() if isinstance(value, bool) else value}")
        return ",".join(out)

    # -- shaping ------------------------------------------------------------------------------

    def error_body(self, code: str, message: str, trace_id: str) -> dict[str, Any]:
        """The error envelope of an HTTP error answer."""
        body: dict[str, Any] = {"success": False} if self.error_success else {}
        body["error"] = message if self.error_string else {"code": code, "message": message}
        body["trace_id"] = trace_id
        return body

    def ack_body(self, task_id: str, trace_id: str) -> dict[str, Any]:
        """The acknowledgement of an async or callback submit."""
        if self.ack == "task_id":
            return {"task_id": task_id}
        if self.ack == "success":
            return {"success": True, "task_id": task_id, "trace_id": trace_id}
        if self.ack == "data":
            return {"data": {"task_id": task_id}, "trace_id": trace_id}
        if self.ack == "id":
            return {"id": task_id}
        return {"task_id": task_id, "trace_id": trace_id}

    def final_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """A finished task's body (sync answer, record ``response``, callback), reshaped."""
        out = dict(body)
        if out.get("success") is True and not self.success_trace_id:
            out.pop("trace_id", None)
        if out.get("state") == "failed":
            out["state"] = self.failed_state
            error = out.get("error")
            if self.error_string and isinstance(error, dict):
                out["error"] = error.get("message", "")
        return out

    def record(self, record: dict[str, Any], task_id: str) -> dict[str, Any]:
        """A task record as ``/luma/tasks`` answers it, reshaped."""
        out = dict(record)
        response = out.get("response")
        if response is None:
            if self.queued == "null":
                out["response"] = None
            elif self.queued == "state":
                out["response"] = {"task_id": task_id, "state": "queued"}
        elif isinstance(response, dict):
            if response.get("state") == "processing":
                response = {**response, "state": self.running_state}
            out["response"] = self.final_body(response)
        if self.top_level_state:
            shaped = out.get("response")
            out["state"] = shaped.get("state") if isinstance(shaped, dict) else "queued"
        return out
