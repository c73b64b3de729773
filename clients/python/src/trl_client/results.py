"""Typed results of the exec.* methods (docs/protocol.md); every field the daemon sent is also in ``raw``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional


def _int(d: Dict[str, Any], key: str) -> int:
    v = d.get(key)
    return int(v) if isinstance(v, (int, float)) else 0


@dataclass(frozen=True)
class ExecResult:
    """How a command ended: exec.run, exec.wait, or the exit event of a stream (output joined from its events)."""

    command_id: str
    stdout: str
    stderr: str
    exit_code: Optional[int]
    signal: Optional[str]
    duration_ms: int
    timed_out: bool
    idle_timed_out: bool = False
    oom_killed: bool = False
    encoding: str = "utf8"
    stdout_truncated_bytes: int = 0
    stderr_truncated_bytes: int = 0
    stdout_invalid_utf8: bool = False
    stderr_invalid_utf8: bool = False
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    working_dir: str = ""
    running: bool = False
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Exited 0, not killed, not timed out, not still running."""
        return self.exit_code == 0 and not self.running and not self.timed_out and self.signal is None

    @property
    def duration_s(self) -> float:
        return self.duration_ms / 1000.0

    @classmethod
    def from_dict(cls, d: Dict[str, Any], stdout: Optional[str] = None, stderr: Optional[str] = None) -> ExecResult:
        exit_code = d.get("exit_code")
        return cls(
            command_id=str(d.get("command_id", "")),
            stdout=stdout if stdout is not None else str(d.get("stdout", "")),
            stderr=stderr if stderr is not None else str(d.get("stderr", "")),
            exit_code=int(exit_code) if isinstance(exit_code, int) else None,
            signal=d.get("signal") if isinstance(d.get("signal"), str) else None,
            duration_ms=_int(d, "duration_ms"),
            timed_out=bool(d.get("timed_out", False)),
            idle_timed_out=bool(d.get("idle_timed_out", False)),
            oom_killed=bool(d.get("oom_killed", False)),
            encoding=str(d.get("encoding", "utf8")),
            stdout_truncated_bytes=_int(d, "stdout_truncated_bytes"),
            stderr_truncated_bytes=_int(d, "stderr_truncated_bytes"),
            stdout_invalid_utf8=bool(d.get("stdout_invalid_utf8", False)),
            stderr_invalid_utf8=bool(d.get("stderr_invalid_utf8", False)),
            stdout_bytes=_int(d, "stdout_bytes"),
            stderr_bytes=_int(d, "stderr_bytes"),
            working_dir=str(d.get("working_dir", "")),
            running=bool(d.get("running", False)),
            raw=dict(d),
        )


@dataclass(frozen=True)
class OutputChunk:
    """exec.output: bytes of one stream from ``offset`` to ``next_offset`` (absolute byte offsets)."""

    data: str
    encoding: str
    offset: int
    next_offset: int
    eof: bool
    dropped_bytes: int

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> OutputChunk:
        return cls(
            data=str(d.get("data", "")),
            encoding=str(d.get("encoding", "utf8")),
            offset=_int(d, "offset"),
            next_offset=_int(d, "next_offset"),
            eof=bool(d.get("eof", False)),
            dropped_bytes=_int(d, "dropped_bytes"),
        )
