"""A session: its own cwd, env, process tree and limits; commands run in it keep cd and export between them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence

from .command import Command
from .files import Files
from .params import Data, compact
from .results import ExecResult
from .streams import ExecStream

if TYPE_CHECKING:
    from .client import Client


class Session:
    """Handle of one session. ``with client.create_session() as s:`` destroys it at the end of the block."""

    def __init__(self, client: Client, session_id: str, info: Optional[Mapping[str, Any]] = None) -> None:
        self.client = client
        self.id = session_id
        self.files = Files(client, session_id)
        #: What session.create answered (or None for a handle made from an id).
        self.created: Optional[Dict[str, Any]] = dict(info) if info is not None else None

    def __repr__(self) -> str:
        return f"Session({self.id!r})"

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy(force=True)

    def info(self) -> Dict[str, Any]:
        """session.info: cwd, env names (never values), state, usage…"""
        return dict(self.client.call("session.info", {"session_id": self.id}))

    def update(
        self,
        *,
        env: Optional[Mapping[str, str]] = None,
        unset_env: Optional[Sequence[str]] = None,
        working_dir: Optional[str] = None,
        name: Optional[str] = None,
        timeout_s: Optional[int] = None,
        secret_keys: Optional[Sequence[str]] = None,
        redact_output: Optional[bool] = None,
    ) -> Dict[str, Any]:
        p = compact(
            session_id=self.id,
            env=dict(env) if env is not None else None,
            unset_env=list(unset_env) if unset_env is not None else None,
            working_dir=working_dir,
            name=name,
            timeout_s=timeout_s,
            secret_keys=list(secret_keys) if secret_keys is not None else None,
            redact_output=redact_output,
        )
        return dict(self.client.call("session.update", p))

    def destroy(self, force: bool = False) -> Dict[str, Any]:
        """session.destroy: kill every process of the session; SessionNotFoundError if it is already gone."""
        return dict(self.client.call("session.destroy", compact(session_id=self.id, force=force or None)))

    def run(self, command: Optional[str] = None, *, argv: Optional[Sequence[str]] = None, stdin: Optional[Data] = None, **options: Any) -> ExecResult:
        """exec.run in this session: see Client.run for the options."""
        return self.client.run(command, argv=argv, stdin=stdin, session_id=self.id, **options)

    def stream(self, command: Optional[str] = None, *, argv: Optional[Sequence[str]] = None, stdin: Optional[Data] = None, **options: Any) -> ExecStream:
        """exec.stream in this session: see Client.stream."""
        return self.client.stream(command, argv=argv, stdin=stdin, session_id=self.id, **options)

    def start(self, command: Optional[str] = None, *, argv: Optional[Sequence[str]] = None, stdin: Optional[Data] = None, **options: Any) -> Command:
        """exec.start in this session: see Client.start."""
        return self.client.start(command, argv=argv, stdin=stdin, session_id=self.id, **options)

    def commands(self) -> List[Dict[str, Any]]:
        """exec.list: this session's commands, running and retained."""
        return self.client.commands(self.id)

    def cancel_all(self) -> List[str]:
        """exec.cancel of every running command of the session (the session survives)."""
        return list(self.client.call("exec.cancel", {"session_id": self.id}).get("cancelled", []))
