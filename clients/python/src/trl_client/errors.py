"""One exception class per protocol error code, all derived from one table.

ERROR_CODES mirrors ERROR_CODES of src/protocol/errors.ts (docs/protocol.md,
"Error codes"); a test holds the two to each other. Each code's class is
named after it (SESSION_NOT_FOUND -> SessionNotFoundError) and made from the
table, so a new code is one new line here.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple, Type

#: (code, class name, meaning) for every error code of the protocol.
ERROR_CODES: Tuple[Tuple[str, str, str], ...] = (
    ("INVALID_PARAMS", "InvalidParamsError", "missing, malformed or unknown parameter"),
    ("METHOD_NOT_FOUND", "MethodNotFoundError", "no such method"),
    ("REQUEST_TOO_LARGE", "RequestTooLargeError", "request over the daemon's limit; the connection is closed"),
    ("AUTH_FAILED", "AuthFailedError", "missing or wrong bearer token"),
    ("SESSION_NOT_FOUND", "SessionNotFoundError", "no live session with this id"),
    ("SESSION_BUSY", "SessionBusyError", "the session's foreground slot is taken"),
    ("SESSION_LIMIT_EXCEEDED", "SessionLimitExceededError", "the session hit its max-commands cap"),
    ("MAX_SESSIONS_REACHED", "MaxSessionsReachedError", "max_sessions live sessions already exist"),
    ("RESOURCE_PRESSURE", "ResourcePressureError", "the daemon refuses new work to protect itself"),
    ("COMMAND_NOT_FOUND", "CommandNotFoundError", "no command with this id (or it was forgotten)"),
    ("COMMAND_TIMEOUT", "CommandTimeoutError", "exec.wait gave up while the command still runs"),
    ("COMMAND_FAILED", "CommandFailedError", "check=True and the command exited non-zero"),
    ("SPAWN_FAILED", "SpawnFailedError", "the shell or program could not be started"),
    ("RUNTIME_UNAVAILABLE", "RuntimeUnavailableError", "the requested isolation tier is not available"),
    ("PATH_OUTSIDE_WORKSPACE", "PathOutsideWorkspaceError", "a path resolves outside the session's workspace"),
    ("PATH_NOT_FOUND", "PathNotFoundError", "no file or directory at this path"),
    ("PATH_EXISTS", "PathExistsError", "something is already at this path"),
    ("NOT_A_FILE", "NotAFileError", "the path is not a regular file"),
    ("NOT_A_DIRECTORY", "NotADirectoryError", "the path, or one of its parents, is not a directory"),
    ("FILE_TOO_LARGE", "FileTooLargeError", "over the read or upload size limit"),
    ("FILE_CHANGED", "FileChangedError", "the file changed since it was read (expect_hash / expect_mtime)"),
    ("PERMISSION_DENIED", "PermissionDeniedError", "the session's user may not do this here"),
    ("SHUTTING_DOWN", "ShuttingDownError", "the daemon is draining and accepts no new work"),
    ("INTERNAL_ERROR", "InternalError", "a bug in the daemon"),
)


class TrlError(Exception):
    """An error answered by the daemon (``code`` is its protocol code) or a broken connection."""

    code: str = "INTERNAL_ERROR"

    def __init__(self, message: str, details: Optional[Mapping[str, Any]] = None, code: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: Dict[str, Any] = dict(details or {})
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ConnectionClosedError(TrlError):
    """The daemon could not be reached, or the connection broke (not a protocol code)."""

    code = "CONNECTION_CLOSED"


def _make(code: str, name: str, meaning: str) -> Type[TrlError]:
    return type(name, (TrlError,), {"code": code, "__doc__": f"{code}: {meaning}.", "__module__": __name__})


#: The class of each code.
ERROR_CLASSES: Dict[str, Type[TrlError]] = {code: _make(code, name, meaning) for code, name, meaning in ERROR_CODES}


def error_from(obj: Any) -> TrlError:
    """The exception for an ``error`` object of a response (an unknown code gives a plain TrlError)."""
    if not isinstance(obj, dict):
        return ERROR_CLASSES["INTERNAL_ERROR"]("malformed error response from the daemon")
    code = str(obj.get("code", "INTERNAL_ERROR"))
    message = str(obj.get("message", ""))
    details = obj.get("details") if isinstance(obj.get("details"), dict) else None
    cls = ERROR_CLASSES.get(code)
    return cls(message, details) if cls is not None else TrlError(message, details, code=code)


# Module attributes for the classes, spelled out so that type checkers and editors see them.
InvalidParamsError = ERROR_CLASSES["INVALID_PARAMS"]
MethodNotFoundError = ERROR_CLASSES["METHOD_NOT_FOUND"]
RequestTooLargeError = ERROR_CLASSES["REQUEST_TOO_LARGE"]
AuthFailedError = ERROR_CLASSES["AUTH_FAILED"]
SessionNotFoundError = ERROR_CLASSES["SESSION_NOT_FOUND"]
SessionBusyError = ERROR_CLASSES["SESSION_BUSY"]
SessionLimitExceededError = ERROR_CLASSES["SESSION_LIMIT_EXCEEDED"]
MaxSessionsReachedError = ERROR_CLASSES["MAX_SESSIONS_REACHED"]
ResourcePressureError = ERROR_CLASSES["RESOURCE_PRESSURE"]
CommandNotFoundError = ERROR_CLASSES["COMMAND_NOT_FOUND"]
CommandTimeoutError = ERROR_CLASSES["COMMAND_TIMEOUT"]
CommandFailedError = ERROR_CLASSES["COMMAND_FAILED"]
SpawnFailedError = ERROR_CLASSES["SPAWN_FAILED"]
RuntimeUnavailableError = ERROR_CLASSES["RUNTIME_UNAVAILABLE"]
PathOutsideWorkspaceError = ERROR_CLASSES["PATH_OUTSIDE_WORKSPACE"]
PathNotFoundError = ERROR_CLASSES["PATH_NOT_FOUND"]
PathExistsError = ERROR_CLASSES["PATH_EXISTS"]
NotAFileError = ERROR_CLASSES["NOT_A_FILE"]
NotADirectoryError = ERROR_CLASSES["NOT_A_DIRECTORY"]  # noqa: A001 - named after its code, as every other class
FileTooLargeError = ERROR_CLASSES["FILE_TOO_LARGE"]
FileChangedError = ERROR_CLASSES["FILE_CHANGED"]
PermissionDeniedError = ERROR_CLASSES["PERMISSION_DENIED"]
ShuttingDownError = ERROR_CLASSES["SHUTTING_DOWN"]
InternalError = ERROR_CLASSES["INTERNAL_ERROR"]
