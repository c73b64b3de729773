"""Python client of the trl daemon: sessions, commands (buffered, streamed, background), stdin, signals, files.

    from trl_client import Client

    with Client.connect() as c, c.create_session() as s:
        r = s.run("echo hello")
        print(r.stdout, r.exit_code)
"""

from __future__ import annotations

from .aio import AsyncClient, AsyncCommand, AsyncExecStream, AsyncSession
from .client import Client
from .command import Command
from .errors import (
    ERROR_CLASSES,
    ERROR_CODES,
    AuthFailedError,
    CommandFailedError,
    CommandNotFoundError,
    CommandTimeoutError,
    ConnectionClosedError,
    FileChangedError,
    FileTooLargeError,
    InternalError,
    InvalidParamsError,
    MaxSessionsReachedError,
    MethodNotFoundError,
    NotADirectoryError,
    NotAFileError,
    PathExistsError,
    PathNotFoundError,
    PathOutsideWorkspaceError,
    PermissionDeniedError,
    RequestTooLargeError,
    ResourcePressureError,
    RuntimeUnavailableError,
    SessionBusyError,
    SessionLimitExceededError,
    SessionNotFoundError,
    ShuttingDownError,
    SpawnFailedError,
    TrlError,
)
from .events import ChangeEvent, Event, ExitEvent, GapEvent, OtherEvent, OutputEvent, WatchEndEvent
from .files import Files
from .results import ExecResult, OutputChunk
from .session import Session
from .streams import ExecStream, WatchStream
from .transport import default_socket_path

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AsyncCommand",
    "AsyncExecStream",
    "AsyncSession",
    "AuthFailedError",
    "ChangeEvent",
    "Client",
    "Command",
    "CommandFailedError",
    "CommandNotFoundError",
    "CommandTimeoutError",
    "ConnectionClosedError",
    "ERROR_CLASSES",
    "ERROR_CODES",
    "Event",
    "ExecResult",
    "ExecStream",
    "ExitEvent",
    "FileChangedError",
    "FileTooLargeError",
    "Files",
    "GapEvent",
    "InternalError",
    "InvalidParamsError",
    "MaxSessionsReachedError",
    "MethodNotFoundError",
    "NotADirectoryError",
    "NotAFileError",
    "OtherEvent",
    "OutputChunk",
    "OutputEvent",
    "PathExistsError",
    "PathNotFoundError",
    "PathOutsideWorkspaceError",
    "PermissionDeniedError",
    "RequestTooLargeError",
    "ResourcePressureError",
    "RuntimeUnavailableError",
    "Session",
    "SessionBusyError",
    "SessionLimitExceededError",
    "SessionNotFoundError",
    "ShuttingDownError",
    "SpawnFailedError",
    "TrlError",
    "WatchEndEvent",
    "WatchStream",
    "default_socket_path",
]
