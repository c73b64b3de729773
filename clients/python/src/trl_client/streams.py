"""Streams as iterators of typed events: a command's output (exec.stream, exec.attach) and fs.watch."""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional

from .errors import ConnectionClosedError
from .events import ChangeEvent, Event, ExitEvent, GapEvent, OutputEvent, WatchEndEvent, parse_event
from .results import ExecResult
from .transport import RawStream


class ExecStream:
    """A command's events: ``for ev in stream`` yields OutputEvent, GapEvent, then one ExitEvent.

    ``offsets`` follows the next byte of each stream, so that after a broken
    connection ``command.attach(from_offset=stream.offsets)`` resumes where
    this one stopped. Leaving the loop early (or ``close()``) stops reading;
    the command runs on.
    """

    def __init__(self, raw: RawStream, encoding: str = "utf8", from_offset: Optional[Dict[str, int]] = None) -> None:
        self._raw = raw
        self._encoding = encoding
        self.stream_id: str = str(raw.data.get("stream_id", ""))
        self.command_id: str = str(raw.data.get("command_id", ""))
        self.offsets: Dict[str, int] = {"stdout": 0, "stderr": 0, **(from_offset or {})}
        self.result: Optional[ExecResult] = None

    def __iter__(self) -> Iterator[Event]:
        for msg in self._raw:
            ev = parse_event(msg, self._encoding)
            if isinstance(ev, OutputEvent):
                self.offsets[ev.stream] = ev.end_offset
            elif isinstance(ev, GapEvent):
                self.offsets[ev.stream] = ev.offset
            elif isinstance(ev, ExitEvent):
                self.result = ev.result
            yield ev

    def collect(self) -> ExecResult:
        """Read to the end; the exit result with stdout and stderr joined from the events (text; base64 pieces are decoded)."""
        out: Dict[str, List[bytes]] = {"stdout": [], "stderr": []}
        for ev in self:
            if isinstance(ev, OutputEvent):
                out[ev.stream].append(ev.bytes)
        if self.result is None:
            raise ConnectionClosedError("the stream ended without an exit event")
        text = {k: b"".join(v).decode("utf-8", errors="replace") for k, v in out.items()}
        return ExecResult.from_dict(self.result.raw, stdout=text["stdout"], stderr=text["stderr"])

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> ExecStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WatchStream:
    """fs.watch: ChangeEvent per change (GapEvent-like OtherEvent when some were dropped), then a WatchEndEvent."""

    def __init__(self, raw: RawStream) -> None:
        self._raw = raw
        self.stream_id: str = str(raw.data.get("stream_id", ""))
        self.path: str = str(raw.data.get("path", ""))

    def __iter__(self) -> Iterator[Event]:
        for msg in self._raw:
            yield parse_event(msg, watch=True)

    def changes(self) -> Iterator[ChangeEvent]:
        """Only the changes, until the watch ends."""
        for ev in self:
            if isinstance(ev, ChangeEvent):
                yield ev
            elif isinstance(ev, WatchEndEvent):
                return

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
