"""The asyncio variant: the same calls as coroutines, streams as async iterators.

Each call runs the synchronous client in a worker thread (asyncio.to_thread);
the connection is thread-safe, so many calls may be in flight at once and a
long ``wait()`` never blocks the event loop nor the other calls.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Sequence, Union, cast

from .client import Client
from .command import Command
from .events import Event
from .files import Files
from .params import Data
from .results import ExecResult, OutputChunk
from .session import Session
from .streams import ExecStream

_END = object()


class AsyncExecStream:
    """``async for ev in stream``: the events of an ExecStream; ``result`` and ``offsets`` as there."""

    def __init__(self, stream: ExecStream) -> None:
        self.sync = stream
        self.stream_id = stream.stream_id
        self.command_id = stream.command_id
        self._it = iter(stream)

    @property
    def result(self) -> Optional[ExecResult]:
        return self.sync.result

    @property
    def offsets(self) -> Dict[str, int]:
        return self.sync.offsets

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        ev: object = await asyncio.to_thread(lambda: next(self._it, _END))
        if ev is _END:
            raise StopAsyncIteration
        return cast(Event, ev)

    async def collect(self) -> ExecResult:
        return await asyncio.to_thread(self.sync.collect)

    async def close(self) -> None:
        await asyncio.to_thread(self.sync.close)


class AsyncCommand:
    def __init__(self, command: Command) -> None:
        self.sync = command
        self.id = command.id
        self.pid = command.pid

    async def info(self) -> Dict[str, Any]:
        return await asyncio.to_thread(self.sync.info)

    async def wait(self, timeout_s: Optional[float] = None) -> ExecResult:
        return await asyncio.to_thread(self.sync.wait, timeout_s)

    async def output(self, stream: str = "stdout", offset: int = 0, *, wait_ms: Optional[int] = None) -> OutputChunk:
        return await asyncio.to_thread(lambda: self.sync.output(stream, offset, wait_ms=wait_ms))

    async def attach(self, from_offset: Union[int, Dict[str, int], None] = None) -> AsyncExecStream:
        return AsyncExecStream(await asyncio.to_thread(self.sync.attach, from_offset))

    async def send_input(self, data: Data = "", eof: bool = False) -> Dict[str, Any]:
        return await asyncio.to_thread(self.sync.send_input, data, eof)

    async def signal(self, sig: Union[str, int]) -> int:
        return await asyncio.to_thread(self.sync.signal, sig)

    async def cancel(self) -> List[str]:
        return await asyncio.to_thread(self.sync.cancel)


class AsyncFiles:
    def __init__(self, files: Files) -> None:
        self.sync = files

    async def read_text(self, path: str) -> str:
        return await asyncio.to_thread(self.sync.read_text, path)

    async def read_bytes(self, path: str) -> bytes:
        return await asyncio.to_thread(self.sync.read_bytes, path)

    async def write(self, path: str, content: Data, *, overwrite: bool = False, make_parents: bool = False) -> Dict[str, Any]:
        return await asyncio.to_thread(lambda: self.sync.write(path, content, overwrite=overwrite, make_parents=make_parents))

    async def list(self, path: Optional[str] = None, *, recursive: bool = False) -> Dict[str, Any]:
        return await asyncio.to_thread(lambda: self.sync.list(path, recursive=recursive))

    async def stat(self, path: str) -> Dict[str, Any]:
        return await asyncio.to_thread(self.sync.stat, path)

    async def remove(self, path: str, *, recursive: bool = False) -> Dict[str, Any]:
        return await asyncio.to_thread(lambda: self.sync.remove(path, recursive=recursive))


class AsyncSession:
    def __init__(self, session: Session) -> None:
        self.sync = session
        self.id = session.id
        self.files = AsyncFiles(session.files)

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.destroy(force=True)

    async def info(self) -> Dict[str, Any]:
        return await asyncio.to_thread(self.sync.info)

    async def destroy(self, force: bool = False) -> Dict[str, Any]:
        return await asyncio.to_thread(self.sync.destroy, force)

    async def run(self, command: Optional[str] = None, *, argv: Optional[Sequence[str]] = None, stdin: Optional[Data] = None, **options: Any) -> ExecResult:
        return await asyncio.to_thread(lambda: self.sync.run(command, argv=argv, stdin=stdin, **options))

    async def stream(self, command: Optional[str] = None, *, argv: Optional[Sequence[str]] = None, stdin: Optional[Data] = None, **options: Any) -> AsyncExecStream:
        return AsyncExecStream(await asyncio.to_thread(lambda: self.sync.stream(command, argv=argv, stdin=stdin, **options)))

    async def start(self, command: Optional[str] = None, *, argv: Optional[Sequence[str]] = None, stdin: Optional[Data] = None, **options: Any) -> AsyncCommand:
        return AsyncCommand(await asyncio.to_thread(lambda: self.sync.start(command, argv=argv, stdin=stdin, **options)))


class AsyncClient:
    """``async with await AsyncClient.connect(...) as c:`` — arguments as Client.connect."""

    def __init__(self, client: Client) -> None:
        self.sync = client

    @classmethod
    async def connect(cls, socket_path: Optional[str] = None, **kwargs: Any) -> AsyncClient:
        return cls(await asyncio.to_thread(lambda: Client.connect(socket_path, **kwargs)))

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await asyncio.to_thread(self.sync.close)

    async def call(self, method: str, params: Optional[Mapping[str, Any]] = None) -> Any:
        return await asyncio.to_thread(self.sync.call, method, params)

    async def ping(self) -> Dict[str, Any]:
        return await asyncio.to_thread(self.sync.ping)

    async def create_session(self, **options: Any) -> AsyncSession:
        """Options as Client.create_session."""
        return AsyncSession(await asyncio.to_thread(lambda: self.sync.create_session(**options)))

    def session(self, session_id: str) -> AsyncSession:
        return AsyncSession(self.sync.session(session_id))

    async def sessions(self) -> List[Dict[str, Any]]:
        return await asyncio.to_thread(self.sync.sessions)

    async def run(self, command: Optional[str] = None, **options: Any) -> ExecResult:
        return await asyncio.to_thread(lambda: self.sync.run(command, **options))

    async def stream(self, command: Optional[str] = None, **options: Any) -> AsyncExecStream:
        return AsyncExecStream(await asyncio.to_thread(lambda: self.sync.stream(command, **options)))

    async def start(self, command: Optional[str] = None, **options: Any) -> AsyncCommand:
        return AsyncCommand(await asyncio.to_thread(lambda: self.sync.start(command, **options)))

    def command(self, command_id: str) -> AsyncCommand:
        return AsyncCommand(self.sync.command(command_id))
