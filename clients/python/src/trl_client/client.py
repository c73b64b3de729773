"""The synchronous client: one connection to a trl daemon (Unix socket, or HTTP(S) with a token)."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from .command import Command
from .http import HttpTransport
from .params import Data, compact, exec_params
from .results import ExecResult
from .session import Session
from .streams import ExecStream
from .transport import Transport, default_socket_path
from .unix import UnixTransport


class Client:
    """``Client.connect()`` (default socket), ``Client.connect("/path/trl.sock")`` or ``Client.connect(url=..., token=...)``.

    Thread-safe: calls from several threads share the connection. ``with`` closes it.
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @classmethod
    def connect(
        cls,
        socket_path: Optional[str] = None,
        *,
        url: Optional[str] = None,
        token: Optional[str] = None,
        cafile: Optional[str] = None,
        verify: bool = True,
        timeout: Optional[float] = None,
    ) -> Client:
        """Connect and check the daemon answers (system.ping).

        ``url`` (http:// or https://) selects HTTP; the token defaults to
        TRL_AUTH_TOKEN; ``cafile`` trusts a self-signed certificate. Otherwise
        the Unix socket at ``socket_path`` (default: where ``trl serve``
        listens: TRL_SOCKET_PATH, else its default path).
        """
        transport: Transport
        if url:
            transport = HttpTransport(url, token, cafile=cafile, verify=verify, timeout=timeout)
        else:
            transport = UnixTransport(socket_path or default_socket_path())
        client = cls(transport)
        try:
            client.ping()
        except BaseException:
            client.close()
            raise
        return client

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- any method ----------------------------------------------------------

    def call(self, method: str, params: Optional[Mapping[str, Any]] = None) -> Any:
        """Any protocol method by name (docs/protocol.md): its ``data``, or the TrlError subclass of its code."""
        return self.transport.call(method, dict(params or {}))

    # -- system --------------------------------------------------------------

    def ping(self) -> Dict[str, Any]:
        return dict(self.call("system.ping"))

    def info(self) -> Dict[str, Any]:
        """system.info: version, tiers and their health, limits in force."""
        return dict(self.call("system.info"))

    def stats(self) -> Dict[str, Any]:
        return dict(self.call("system.stats"))

    # -- sessions ------------------------------------------------------------

    def create_session(
        self,
        *,
        working_dir: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        name: Optional[str] = None,
        shell: Optional[str] = None,
        timeout_s: Optional[int] = None,
        runtime: Optional[str] = None,
        workspace: Optional[str] = None,
        limits: Optional[Mapping[str, float]] = None,
        network: Optional[bool] = None,
        image: Optional[str] = None,
        secret_keys: Optional[Sequence[str]] = None,
        redact_output: Optional[bool] = None,
    ) -> Session:
        """session.create; the returned Session runs commands, manages files, and is destroyed by ``with``."""
        p = compact(
            working_dir=working_dir,
            env=dict(env) if env is not None else None,
            name=name,
            shell=shell,
            timeout_s=timeout_s,
            runtime=runtime,
            workspace=workspace,
            limits=dict(limits) if limits is not None else None,
            network=network,
            image=image,
            secret_keys=list(secret_keys) if secret_keys is not None else None,
            redact_output=redact_output,
        )
        data = self.call("session.create", p)
        return Session(self, str(data["session_id"]), data)

    def session(self, session_id: str) -> Session:
        """A handle of an existing session (no call is made)."""
        return Session(self, session_id)

    def sessions(self) -> List[Dict[str, Any]]:
        """session.list: every live session."""
        return list(self.call("session.list").get("sessions", []))

    # -- commands ------------------------------------------------------------

    def run(
        self,
        command: Optional[str] = None,
        *,
        argv: Optional[Sequence[str]] = None,
        stdin: Optional[Data] = None,
        session_id: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        working_dir: Optional[str] = None,
        timeout_s: Optional[float] = None,
        idle_timeout_s: Optional[float] = None,
        encoding: Optional[str] = None,
        max_output_bytes: Optional[int] = None,
        persist_state: Optional[bool] = None,
        check: Optional[bool] = None,
        secret_keys: Optional[Sequence[str]] = None,
        pty: Optional[Mapping[str, int]] = None,
        yield_after_s: Optional[float] = None,
    ) -> ExecResult:
        """exec.run: run to the end (or ``yield_after_s``) and return the buffered result.

        ``command`` is a shell command line; ``argv`` a program and its
        arguments (no shell). ``stdin`` (text or bytes) is written and closed.
        A non-zero exit is a result, not an error, unless ``check=True``
        (CommandFailedError, result in ``.details["result"]``). Without
        ``session_id``, a fresh session is made for it and destroyed after.
        """
        opts = compact(
            session_id=session_id,
            env=dict(env) if env is not None else None,
            working_dir=working_dir,
            timeout_s=timeout_s,
            idle_timeout_s=idle_timeout_s,
            encoding=encoding,
            max_output_bytes=max_output_bytes,
            persist_state=persist_state,
            check=check,
            secret_keys=list(secret_keys) if secret_keys is not None else None,
            pty=dict(pty) if pty is not None else None,
            yield_after_s=yield_after_s,
        )
        return ExecResult.from_dict(self.call("exec.run", exec_params(command, argv, stdin, opts)))

    def stream(
        self,
        command: Optional[str] = None,
        *,
        argv: Optional[Sequence[str]] = None,
        stdin: Optional[Data] = None,
        session_id: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        working_dir: Optional[str] = None,
        timeout_s: Optional[float] = None,
        idle_timeout_s: Optional[float] = None,
        encoding: Optional[str] = None,
        max_output_bytes: Optional[int] = None,
        persist_state: Optional[bool] = None,
        secret_keys: Optional[Sequence[str]] = None,
        pty: Optional[Mapping[str, int]] = None,
        stdin_open: Optional[bool] = None,
    ) -> ExecStream:
        """exec.stream: run in the session's foreground slot; iterate the returned stream for its events."""
        opts = compact(
            session_id=session_id,
            env=dict(env) if env is not None else None,
            working_dir=working_dir,
            timeout_s=timeout_s,
            idle_timeout_s=idle_timeout_s,
            encoding=encoding,
            max_output_bytes=max_output_bytes,
            persist_state=persist_state,
            secret_keys=list(secret_keys) if secret_keys is not None else None,
            pty=dict(pty) if pty is not None else None,
            stdin_open=stdin_open,
        )
        raw = self.transport.stream("exec.stream", exec_params(command, argv, stdin, opts))
        return ExecStream(raw, encoding or "utf8")

    def start(
        self,
        command: Optional[str] = None,
        *,
        argv: Optional[Sequence[str]] = None,
        stdin: Optional[Data] = None,
        session_id: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        working_dir: Optional[str] = None,
        timeout_s: Optional[float] = None,
        idle_timeout_s: Optional[float] = None,
        max_output_bytes: Optional[int] = None,
        secret_keys: Optional[Sequence[str]] = None,
        pty: Optional[Mapping[str, int]] = None,
        stdin_open: Optional[bool] = None,
    ) -> Command:
        """exec.start: a background command; returns at once with its handle (wait, output, attach, send_input, signal, cancel)."""
        opts = compact(
            session_id=session_id,
            env=dict(env) if env is not None else None,
            working_dir=working_dir,
            timeout_s=timeout_s,
            idle_timeout_s=idle_timeout_s,
            max_output_bytes=max_output_bytes,
            secret_keys=list(secret_keys) if secret_keys is not None else None,
            pty=dict(pty) if pty is not None else None,
            stdin_open=stdin_open,
        )
        data = self.call("exec.start", exec_params(command, argv, stdin, opts))
        pid = data.get("pid")
        return Command(self, str(data["command_id"]), int(pid) if isinstance(pid, int) else None)

    def command(self, command_id: str) -> Command:
        """A handle of a command by id, e.g. one another process started: wait, attach, signal… (no call is made)."""
        return Command(self, command_id)

    def commands(self, session_id: Optional[str] = None) -> List[Dict[str, Any]]:
        """exec.list: the commands of one session, or of all."""
        return list(self.call("exec.list", compact(session_id=session_id)).get("commands", []))
