"""The daemon over HTTP(S): ``POST /v1/rpc`` per call, a bearer token on every request.

Calls reuse keep-alive connections from a small pool (so concurrent calls
from threads do not wait for each other); a streaming method's events are
the NDJSON body of its own request, on a connection of its own.
``GET``/``PUT /v1/files`` move whole files as raw bytes.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
import urllib.parse
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

from .errors import ConnectionClosedError, error_from
from .transport import RawStream, Transport, is_end, unwrap

_Conn = Union[http.client.HTTPConnection, http.client.HTTPSConnection]
# A reused keep-alive connection the server closed meanwhile fails with one of these before any answer: send again once.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class HttpTransport(Transport):
    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        *,
        cafile: Optional[str] = None,
        verify: bool = True,
        timeout: Optional[float] = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectionClosedError(f"'{url}' is not an http:// or https:// URL; give the daemon's HTTP address, e.g. http://127.0.0.1:8080")
        if parts.username or parts.password or parts.query:
            raise ConnectionClosedError("put the token in the `token` argument (or TRL_AUTH_TOKEN), never in the URL")
        tok = token if token is not None else os.environ.get("TRL_AUTH_TOKEN")
        if not tok:
            raise ConnectionClosedError("no token: pass `token` (the daemon's TRL_AUTH_TOKEN) or set TRL_AUTH_TOKEN")
        self._token = tok
        self._secure = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._timeout = timeout
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._ctx: Optional[ssl.SSLContext] = None
        if self._secure:
            self._ctx = ssl.create_default_context(cafile=cafile)
            if not verify:
                self._ctx.check_hostname = False
                self._ctx.verify_mode = ssl.CERT_NONE
        self._idle: List[_Conn] = []
        self._lock = threading.Lock()
        self._open: List[http.client.HTTPResponse] = []
        self._closed = False

    # -- calls -------------------------------------------------------------

    def call(self, method: str, params: Dict[str, Any]) -> Any:
        body = json.dumps({"id": 1, "method": method, "params": params}).encode("utf-8")
        status, text = self._request("POST", self._base + "/v1/rpc", body, {"Content-Type": "application/json"})
        return unwrap(_envelope(status, text))

    def stream(self, method: str, params: Dict[str, Any]) -> RawStream:
        self._check_open()
        body = json.dumps({"id": 1, "method": method, "params": params}).encode("utf-8")
        conn = self._new_conn()
        try:
            conn.request("POST", self._base + "/v1/rpc", body, self._headers({"Content-Type": "application/json", "Accept": "application/x-ndjson"}))
            res = conn.getresponse()
            first = res.readline()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise ConnectionClosedError(self._unreachable(e)) from e
        try:
            data = unwrap(_envelope(res.status, first))
        except Exception:
            conn.close()
            raise
        s = _HttpStream(self, conn, res, data)
        with self._lock:
            self._open.append(res)
        return s

    # -- files (raw bytes) ---------------------------------------------------

    def download(self, session_id: str, path: str, offset: Optional[int] = None, length: Optional[int] = None) -> bytes:
        q: Dict[str, Any] = {"session_id": session_id, "path": path}
        if offset is not None:
            q["offset"] = offset
        if length is not None:
            q["length"] = length
        status, body = self._request("GET", self._base + "/v1/files?" + urllib.parse.urlencode(q), None, {})
        if status != 200:
            unwrap(_envelope(status, body))
        return body

    def upload(self, params: Mapping[str, Any], data: bytes) -> Dict[str, Any]:
        q: Dict[str, str] = {}
        for k, v in params.items():
            if v is None or v is False:
                continue
            q[k] = "1" if v is True else str(v)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))}
        status, body = self._request("PUT", self._base + "/v1/files?" + urllib.parse.urlencode(q), data, headers)
        result = unwrap(_envelope(status, body))
        return result if isinstance(result, dict) else {}

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            open_, self._open = self._open, []
        for c in idle:
            c.close()
        for r in open_:
            r.close()

    # -- internals -------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionClosedError("this client is closed")

    def _headers(self, extra: Mapping[str, str]) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", **extra}

    def _new_conn(self) -> _Conn:
        if self._secure:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._ctx)
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def _unreachable(self, e: BaseException) -> str:
        if isinstance(e, ConnectionRefusedError):
            return f"no trl daemon listens at {self._origin}; start one with `trl serve --http …`"
        return f"cannot reach {self._origin}: {e}"

    def _request(self, verb: str, target: str, body: Optional[bytes], headers: Mapping[str, str]) -> Tuple[int, bytes]:
        self._check_open()
        with self._lock:
            conn, reused = (self._idle.pop(), True) if self._idle else (self._new_conn(), False)
        for attempt in (0, 1):
            try:
                conn.request(verb, target, body, self._headers(headers))
                res = conn.getresponse()
                data = res.read()
            except _STALE as e:
                conn.close()
                if reused and attempt == 0:
                    conn, reused = self._new_conn(), False
                    continue
                raise ConnectionClosedError(self._unreachable(e)) from e
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                raise ConnectionClosedError(self._unreachable(e)) from e
            if res.will_close:
                conn.close()
            else:
                with self._lock:
                    if self._closed:
                        conn.close()
                    else:
                        self._idle.append(conn)
            return res.status, data
        raise ConnectionClosedError(f"cannot reach {self._origin}")  # not reached: the loop returns or raises

    def _forget(self, res: http.client.HTTPResponse) -> None:
        with self._lock:
            if res in self._open:
                self._open.remove(res)


def _envelope(status: int, body: bytes) -> Dict[str, Any]:
    try:
        msg = json.loads(body)
    except ValueError:
        msg = None
    if isinstance(msg, dict) and isinstance(msg.get("ok"), bool):
        return msg
    if status == 401:
        raise error_from({"code": "AUTH_FAILED", "message": "the daemon refused the token (HTTP 401); pass the daemon's TRL_AUTH_TOKEN"})
    raise ConnectionClosedError(f"the daemon answered HTTP {status} without a response envelope: {body[:200]!r}")


class _HttpStream(RawStream):
    def __init__(self, t: HttpTransport, conn: _Conn, res: http.client.HTTPResponse, data: Dict[str, Any]) -> None:
        self._t = t
        self._conn = conn
        self._res = res
        self.data = data
        self._done = False

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        try:
            while not self._done:
                try:
                    line = self._res.readline()
                except (OSError, ValueError, http.client.HTTPException) as e:
                    if self._done:
                        return
                    raise ConnectionClosedError(f"the stream's HTTP response broke off: {e}") from e
                if not line:
                    if self._done:
                        return
                    raise ConnectionClosedError("the stream's HTTP response ended before its exit event")
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(msg, dict) or not isinstance(msg.get("stream_id"), str):
                    continue
                if is_end(msg):
                    self._done = True
                yield msg
        finally:
            if self._done:
                self.close()

    def close(self) -> None:
        self._done = True
        self._t._forget(self._res)
        self._res.close()
        self._conn.close()
