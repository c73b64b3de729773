"""The daemon's Unix socket: NDJSON both ways, requests pipelined and matched to answers by id.

Any thread may use one connection. Whoever waits for something (an answer, a
stream's next event) and finds nobody reading becomes the reader: it reads
one line, files it (answers by id, events by stream id) and wakes the others.
So a thread blocked in exec.wait never holds back another thread's call.

exec.run and exec.wait ask for their output as raw bytes after the answer's
line (``raw_output``, docs/protocol.md): the reader takes those bytes with the
line and decodes them into ``stdout`` and ``stderr`` as the daemon's JSON
would have held them. A daemon that predates it is asked again without it.
"""

from __future__ import annotations

import base64
import collections
import itertools
import json
import socket
import threading
from typing import Any, Callable, Deque, Dict, Iterator, Optional, Set, TypeVar

from .errors import ConnectionClosedError, TrlError, error_from
from .transport import RawStream, Transport, is_end, unwrap

T = TypeVar("T")


def _no_daemon_hint(path: str) -> str:
    return f"no trl daemon listens on {path}; start one with `trl serve` (or pass the socket path it prints)"


class UnixTransport(Transport):
    def __init__(self, path: str, connect_timeout: Optional[float] = 10.0) -> None:
        self.path = path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(connect_timeout)
            sock.connect(path)
            sock.settimeout(None)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            sock.close()
            raise ConnectionClosedError(_no_daemon_hint(path)) from e
        except OSError as e:
            sock.close()
            raise ConnectionClosedError(f"cannot connect to {path}: {e}") from e
        self._sock = sock
        self._rfile = sock.makefile("rb")
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._reading = False
        self._waiting: Set[int] = set()
        self._answers: Dict[int, Dict[str, Any]] = {}
        self._events: Dict[str, Deque[Dict[str, Any]]] = collections.defaultdict(collections.deque)
        self._dropped: Set[str] = set()
        self._failed: Optional[TrlError] = None
        # exec.run and exec.wait take their output as raw bytes after the answer's line (raw_output):
        # no JSON escaping of megabytes in the daemon, no JSON parse of them here; the result is the same.
        self._raw_output = True

    def call(self, method: str, params: Dict[str, Any]) -> Any:
        if not self._raw_output or method not in ("exec.run", "exec.wait") or "raw_output" in params:
            return self._call(method, params)
        try:
            return self._call(method, {**params, "raw_output": True})
        except TrlError as e:
            # A daemon older than raw_output refuses it before running anything: ask without it from now on.
            if e.code != "INVALID_PARAMS" or not e.message.startswith("unknown parameter 'raw_output'"):
                raise
            self._raw_output = False
            return self._call(method, params)

    def _call(self, method: str, params: Dict[str, Any]) -> Any:
        rid = next(self._ids)
        with self._cond:
            if self._failed is not None:
                raise self._failed
            self._waiting.add(rid)
        try:
            self._send({"id": rid, "method": method, "params": params})
            msg = self._until(lambda: self._answers.pop(rid, None))
        finally:
            with self._cond:
                self._waiting.discard(rid)
        return unwrap(msg)

    def stream(self, method: str, params: Dict[str, Any]) -> RawStream:
        data = self.call(method, params)
        return _UnixStream(self, data)

    def close(self) -> None:
        with self._cond:
            if self._failed is None:
                self._failed = ConnectionClosedError("this client is closed")
            self._cond.notify_all()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    # -- internals -------------------------------------------------------

    def _send(self, msg: Dict[str, Any]) -> None:
        line = (json.dumps(msg, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            with self._send_lock:
                self._sock.sendall(line)
        except OSError as e:
            raise self._fail(f"the connection to the trl daemon broke: {e}") from e

    def _fail(self, message: str, error: Optional[Dict[str, Any]] = None) -> TrlError:
        with self._cond:
            if self._failed is None:
                self._failed = error_from(error) if error is not None else ConnectionClosedError(message)
            self._cond.notify_all()
            return self._failed

    def _until(self, take: Callable[[], Optional[T]]) -> T:
        """Return what ``take`` finds, reading lines (one reader at a time) until it finds something."""
        with self._cond:
            while True:
                got = take()
                if got is not None:
                    return got
                if self._failed is not None:
                    raise self._failed
                if self._reading:
                    self._cond.wait()
                    continue
                self._reading = True
                self._cond.release()
                msg: Optional[Dict[str, Any]] = None
                closed = False
                try:
                    line: Optional[bytes] = self._rfile.readline()
                    closed = not line
                    if line:
                        msg = _parse(line)
                        if msg is not None and not self._take_raw_output(msg):
                            closed = True
                except (OSError, ValueError):
                    closed = True
                finally:
                    self._cond.acquire()
                    self._reading = False
                    self._cond.notify_all()
                if closed:
                    if self._failed is None:
                        self._failed = ConnectionClosedError("the connection to the trl daemon closed")
                    continue
                if msg is not None:
                    self._file(msg)

    def _take_raw_output(self, msg: Dict[str, Any]) -> bool:
        """Read the raw bytes a raw_output answer says follow its line into its stdout and stderr; False if the connection ended first."""
        data = msg.get("data")
        raw = data.get("raw_output") if msg.get("ok") is True and isinstance(data, dict) else None
        if not isinstance(raw, dict):
            return True
        out_n, err_n = int(raw.get("stdout", 0)), int(raw.get("stderr", 0))
        body = self._rfile.read(out_n + err_n) if out_n + err_n > 0 else b""
        if len(body) < out_n + err_n:
            return False
        if data.get("encoding") == "base64":
            data["stdout"] = base64.b64encode(body[:out_n]).decode("ascii")
            data["stderr"] = base64.b64encode(body[out_n:]).decode("ascii")
        else:
            # As the daemon decodes in its JSON: invalid bytes as U+FFFD (stdout_invalid_utf8 says so).
            data["stdout"] = body[:out_n].decode("utf-8", errors="replace")
            data["stderr"] = body[out_n:].decode("utf-8", errors="replace")
        del data["raw_output"]
        return True

    def _file(self, msg: Dict[str, Any]) -> None:
        """Put one message where its reader looks for it (called with the lock held)."""
        sid = msg.get("stream_id")
        if isinstance(sid, str) and "event" in msg:
            if sid in self._dropped:
                if is_end(msg):
                    self._dropped.discard(sid)
                return
            self._events[sid].append(msg)
            return
        rid = msg.get("id")
        if isinstance(rid, int) and rid in self._waiting:
            self._answers[rid] = msg
        elif rid is None and msg.get("ok") is False:
            # An answer to no request (REQUEST_TOO_LARGE before the daemon closes): every caller learns why.
            err = msg.get("error")
            self._failed = error_from(err) if isinstance(err, dict) else ConnectionClosedError("the daemon refused a request")

    def _next_event(self, sid: str) -> Dict[str, Any]:
        def take() -> Optional[Dict[str, Any]]:
            q = self._events.get(sid)
            return q.popleft() if q else None

        return self._until(take)

    def _drop(self, sid: str, ended: bool) -> None:
        with self._cond:
            self._events.pop(sid, None)
            if not ended:
                self._dropped.add(sid)


def _parse(line: bytes) -> Optional[Dict[str, Any]]:
    """One line from the daemon as a message, or None (not JSON, not an object: skipped)."""
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) else None


class _UnixStream(RawStream):
    def __init__(self, transport: UnixTransport, data: Dict[str, Any]) -> None:
        self._t = transport
        self.data = data
        self._sid = str(data.get("stream_id", ""))
        self._ended = False
        self._closed = False

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        while not self._ended and not self._closed:
            msg = self._t._next_event(self._sid)
            if is_end(msg):
                self._ended = True
                self._t._drop(self._sid, True)
            yield msg

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._t._drop(self._sid, self._ended)
