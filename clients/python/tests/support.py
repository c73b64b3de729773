"""What the tests run against, from the environment (test/python-sdk.test.ts sets it):

TRL_TEST_SOCKET            a daemon's Unix socket
TRL_TEST_URL, TRL_TEST_TOKEN   the same daemon over HTTP, and its token
TRL_TEST_CASES             test/cases/client-cases.json (default: found from this file in the repository)
TRL_TEST_ERROR_CODES       the protocol's error codes as a JSON list (src/protocol/errors.ts)
TRL_TEST_WORK_DIR          where workspaces are made (under the daemon's workspace roots; default: the temp dir)

A transport that is not configured skips its tests with the reason.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

from trl_client import Client

T = TypeVar("T")

#: How long a wait for something may take on a starved machine: a deadline, not a measure of speed.
DEADLINE_S = 60.0

HERE = os.path.dirname(os.path.abspath(__file__))


def transports() -> List[Tuple[str, Optional[Dict[str, Any]]]]:
    """(name, Client.connect kwargs or None when not configured) for the socket and for HTTP."""
    sock = os.environ.get("TRL_TEST_SOCKET")
    url, token = os.environ.get("TRL_TEST_URL"), os.environ.get("TRL_TEST_TOKEN")
    return [
        ("socket", {"socket_path": sock} if sock else None),
        ("http", {"url": url, "token": token} if url and token else None),
    ]


def not_configured(name: str) -> str:
    return f"the {name} transport is not configured: set TRL_TEST_SOCKET, or TRL_TEST_URL and TRL_TEST_TOKEN (test/python-sdk.test.ts does)"


def connect(kwargs: Dict[str, Any]) -> Client:
    return Client.connect(**kwargs)


def cases_file() -> str:
    return os.environ.get("TRL_TEST_CASES") or os.path.join(HERE, "..", "..", "..", "test", "cases", "client-cases.json")


def load_cases() -> List[Dict[str, Any]]:
    with open(cases_file(), encoding="utf-8") as f:
        doc = json.load(f)
    assert doc.get("format") == 1, f"unknown case format {doc.get('format')!r} in {cases_file()}"
    return list(doc["cases"])


def make_workspace() -> str:
    base = os.environ.get("TRL_TEST_WORK_DIR") or tempfile.gettempdir()
    return os.path.realpath(tempfile.mkdtemp(prefix="trl-pycase-", dir=base))


def wait_for(check: Callable[[], Optional[T]], what: str, deadline_s: float = DEADLINE_S) -> T:
    """Poll ``check`` until it returns something other than None (each poll is itself a long-poll or a quick call)."""
    end = time.monotonic() + deadline_s
    while True:
        got = check()
        if got is not None:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"gave up after {deadline_s} s waiting for {what}")
        time.sleep(0.05)
