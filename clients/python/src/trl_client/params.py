"""Building request params: keyword arguments to protocol fields, None left out, bytes sent as base64."""

from __future__ import annotations

import base64
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

Data = Union[str, bytes]


def compact(**fields: Any) -> Dict[str, Any]:
    """The fields that were given (not None)."""
    return {k: v for k, v in fields.items() if v is not None}


def encode_data(data: Data) -> Tuple[str, Optional[str]]:
    """Text as is; bytes as base64 with the encoding to name."""
    if isinstance(data, bytes):
        return base64.b64encode(data).decode("ascii"), "base64"
    return data, None


def exec_params(
    command: Optional[str],
    argv: Optional[Sequence[str]],
    stdin: Optional[Data],
    extra: Mapping[str, Any],
) -> Dict[str, Any]:
    """Params of exec.run / exec.stream / exec.start: a shell command line or an argv, optional stdin, the rest as given."""
    if (command is None) == (argv is None):
        raise ValueError("give either a command (a shell command line) or argv (a program and its arguments)")
    p: Dict[str, Any] = compact(**extra)
    if command is not None:
        p["command"] = command
    if argv is not None:
        p["argv"] = list(argv)
    if stdin is not None:
        p["stdin"], enc = encode_data(stdin)
        if enc:
            p["stdin_encoding"] = enc
    return p
