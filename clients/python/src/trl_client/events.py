"""Typed events of the streaming methods: exec.stream and exec.attach (output, gap, exit), fs.watch (change)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Dict, Union

from .results import ExecResult


@dataclass(frozen=True)
class OutputEvent:
    """A piece of stdout or stderr; ``offset`` is the absolute byte offset of its first byte in that stream."""

    stream: str
    data: str
    offset: int
    encoding: str = "utf8"

    @property
    def bytes(self) -> bytes:
        return base64.b64decode(self.data) if self.encoding == "base64" else self.data.encode("utf-8")

    @property
    def end_offset(self) -> int:
        """Offset just past this piece: where a resumed exec.attach goes on (exact for base64; for utf8 unless invalid bytes were replaced)."""
        return self.offset + len(self.bytes)


@dataclass(frozen=True)
class GapEvent:
    """The daemon's buffer moved on before these bytes were sent (a slow reader, or the dropped middle of a large output)."""

    stream: str
    dropped_bytes: int
    offset: int


@dataclass(frozen=True)
class ExitEvent:
    """The command ended; the last event of its stream. ``result`` has empty stdout/stderr (they came as events)."""

    result: ExecResult


@dataclass(frozen=True)
class ChangeEvent:
    """fs.watch: something was created, written, removed or renamed at ``path``."""

    kind: str
    path: str


@dataclass(frozen=True)
class WatchEndEvent:
    """fs.watch ended (fs.unwatch, or the watched directory went away)."""

    reason: str


@dataclass(frozen=True)
class OtherEvent:
    """An event this client version does not know: kept whole."""

    event: str
    raw: Dict[str, Any] = field(default_factory=dict)


Event = Union[OutputEvent, GapEvent, ExitEvent, ChangeEvent, WatchEndEvent, OtherEvent]


def parse_event(msg: Dict[str, Any], encoding: str = "utf8", watch: bool = False) -> Event:
    """One event line of the daemon as its typed event."""
    kind = str(msg.get("event", ""))
    if kind in ("stdout", "stderr"):
        return OutputEvent(kind, str(msg.get("data", "")), int(msg.get("offset", 0)), encoding)
    if kind == "gap" and not watch:
        return GapEvent(str(msg.get("stream", "")), int(msg.get("dropped_bytes", 0)), int(msg.get("offset", 0)))
    if kind == "exit":
        raw = msg.get("data")
        data: Dict[str, Any] = raw if isinstance(raw, dict) else {}
        if watch:
            return WatchEndEvent(str(data.get("reason", "")))
        return ExitEvent(ExecResult.from_dict(data, stdout="", stderr=""))
    if kind == "change":
        return ChangeEvent(str(msg.get("kind", "")), str(msg.get("path", "")))
    return OtherEvent(kind, dict(msg))
