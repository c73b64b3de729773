"""A command known by its id: started in the background, or found again later (from any connection)."""

from __future__ import annotations

import signal as _signal
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from .params import Data, compact, encode_data
from .results import ExecResult, OutputChunk
from .streams import ExecStream

if TYPE_CHECKING:
    from .client import Client


class Command:
    """Handle of one command; every method is one call to the daemon."""

    def __init__(self, client: Client, command_id: str, pid: Optional[int] = None) -> None:
        self.client = client
        self.id = command_id
        self.pid = pid

    def __repr__(self) -> str:
        return f"Command({self.id!r})"

    def info(self) -> Dict[str, Any]:
        """exec.info: state, exit fields, byte counts."""
        return dict(self.client.call("exec.info", {"command_id": self.id}))

    def wait(self, timeout_s: Optional[float] = None, encoding: Optional[str] = None) -> ExecResult:
        """exec.wait: block until it ends; CommandTimeoutError if ``timeout_s`` passes first (it runs on)."""
        return ExecResult.from_dict(self.client.call("exec.wait", compact(command_id=self.id, timeout_s=timeout_s, encoding=encoding)))

    def output(
        self,
        stream: str = "stdout",
        offset: int = 0,
        *,
        max_bytes: Optional[int] = None,
        wait_ms: Optional[int] = None,
        encoding: Optional[str] = None,
    ) -> OutputChunk:
        """exec.output: buffered bytes from ``offset``; ``wait_ms`` long-polls for bytes past it."""
        p = compact(command_id=self.id, stream=stream, offset=offset, max_bytes=max_bytes, wait_ms=wait_ms, encoding=encoding)
        return OutputChunk.from_dict(self.client.call("exec.output", p))

    def attach(self, from_offset: Union[int, Dict[str, int], None] = None, encoding: Optional[str] = None) -> ExecStream:
        """exec.attach: replay buffered output from ``from_offset`` (one number, or per stream), then live events."""
        raw = self.client.transport.stream("exec.attach", compact(command_id=self.id, from_offset=from_offset, encoding=encoding))
        offsets = {"stdout": from_offset, "stderr": from_offset} if isinstance(from_offset, int) else from_offset
        return ExecStream(raw, encoding or "utf8", offsets)

    def send_input(self, data: Data = "", eof: bool = False) -> Dict[str, Any]:
        """exec.input: write to its stdin (started with stdin_open=True); ``eof`` closes stdin after."""
        text, enc = encode_data(data)
        return dict(self.client.call("exec.input", compact(command_id=self.id, data=text, encoding=enc, eof=eof or None)))

    def close_stdin(self) -> Dict[str, Any]:
        return self.send_input("", eof=True)

    def signal(self, sig: Union[str, int]) -> int:
        """exec.signal: deliver ``sig`` (a name like "SIGINT" or "INT", or a number) to its whole process tree; returns how many processes got it."""
        name = _signal.Signals(sig).name if isinstance(sig, int) else sig
        return int(self.client.call("exec.signal", {"command_id": self.id, "signal": name}).get("delivered", 0))

    def cancel(self) -> List[str]:
        """exec.cancel: SIGTERM, grace, SIGKILL to its tree; returns the ids cancelled."""
        return list(self.client.call("exec.cancel", {"command_id": self.id}).get("cancelled", []))

    def resize(self, cols: int, rows: int) -> None:
        """exec.resize: the window size of a pty command."""
        self.client.call("exec.resize", {"command_id": self.id, "cols": cols, "rows": rows})
