"""What the client needs from a connection to the daemon: calls, streams, close."""

from __future__ import annotations

import abc
import os
from typing import Any, Dict, Iterator, Optional

from .errors import TrlError, error_from


class RawStream(abc.ABC):
    """A streaming method once answered: its answer's ``data`` and its raw event messages, ending after ``exit``."""

    data: Dict[str, Any]

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Dict[str, Any]]: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Stop reading the events (the command, or the watch, runs on)."""


class Transport(abc.ABC):
    @abc.abstractmethod
    def call(self, method: str, params: Dict[str, Any]) -> Any:
        """Send one request; return its ``data`` or raise the TrlError of its code."""

    @abc.abstractmethod
    def stream(self, method: str, params: Dict[str, Any]) -> RawStream:
        """Open a streaming method (exec.stream, exec.attach, fs.watch)."""

    @abc.abstractmethod
    def close(self) -> None: ...


def unwrap(msg: Any) -> Any:
    """The ``data`` of a response envelope, or the exception of its error."""
    if isinstance(msg, dict) and msg.get("ok") is True:
        return msg.get("data")
    if isinstance(msg, dict) and msg.get("ok") is False:
        raise error_from(msg.get("error"))
    raise error_from({"code": "INTERNAL_ERROR", "message": f"malformed response from the daemon: {str(msg)[:200]}"})


def default_socket_path(env: Optional[Dict[str, str]] = None) -> str:
    """Where ``trl serve`` listens by default: TRL_SOCKET_PATH, else $XDG_RUNTIME_DIR/trl/trl.sock, else /tmp/trl-<uid>/trl.sock."""
    e = dict(os.environ) if env is None else env
    if e.get("TRL_SOCKET_PATH"):
        return e["TRL_SOCKET_PATH"]
    xdg = e.get("XDG_RUNTIME_DIR", "")
    if xdg.startswith("/"):
        return os.path.join(xdg, "trl", "trl.sock")
    return os.path.join("/tmp", f"trl-{os.getuid()}", "trl.sock")


def is_end(msg: Dict[str, Any]) -> bool:
    return msg.get("event") in ("exit", "error")


__all__ = ["RawStream", "Transport", "TrlError", "unwrap", "default_socket_path", "is_end"]
