"""Files of a session's workspace (fs.*): paths relative to the session's cwd, or absolute inside its workspace."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from .params import Data, compact, encode_data
from .streams import WatchStream

if TYPE_CHECKING:
    from .client import Client

Edit = Union[Tuple[str, str], Mapping[str, Any]]


class Files:
    def __init__(self, client: Client, session_id: str) -> None:
        self.client = client
        self.session_id = session_id

    def _call(self, method: str, **fields: Any) -> Dict[str, Any]:
        return dict(self.client.call(method, compact(session_id=self.session_id, **fields)))

    def read(
        self,
        path: str,
        *,
        encoding: Optional[str] = None,
        offset: Optional[int] = None,
        length: Optional[int] = None,
        line_offset: Optional[int] = None,
        line_limit: Optional[int] = None,
    ) -> Dict[str, Any]:
        """fs.read: by lines (text) or by bytes (``offset``/``length``, base64 with encoding="base64"); the whole result."""
        return self._call("fs.read", path=path, encoding=encoding, offset=offset, length=length, line_offset=line_offset, line_limit=line_limit)

    def read_text(self, path: str) -> str:
        """The whole file as text (fs.read by bytes, piece by piece)."""
        return self.read_bytes(path).decode("utf-8")

    def read_bytes(self, path: str) -> bytes:
        """The whole file as bytes: GET /v1/files over HTTP, fs.read pieces over the socket."""
        download = getattr(self.client.transport, "download", None)
        if download is not None:
            return bytes(download(self.session_id, path))
        parts: List[bytes] = []
        offset = 0
        while True:
            r = self.read(path, encoding="base64", offset=offset)
            piece = base64.b64decode(r.get("content", ""))
            parts.append(piece)
            offset += len(piece)
            if r.get("eof") or not piece:
                return b"".join(parts)

    def write(
        self,
        path: str,
        content: Data,
        *,
        overwrite: bool = False,
        mode: Union[int, str, None] = None,
        make_parents: bool = False,
        expect_hash: Optional[str] = None,
    ) -> Dict[str, Any]:
        """fs.write: the whole file, atomically; PathExistsError unless ``overwrite``."""
        text, enc = encode_data(content)
        return self._call(
            "fs.write", path=path, content=text, encoding=enc, overwrite=overwrite or None, mode=mode, make_parents=make_parents or None, expect_hash=expect_hash
        )

    def upload(self, path: str, data: bytes, *, overwrite: bool = False, mode: Optional[str] = None, make_parents: bool = False) -> Dict[str, Any]:
        """The whole file from bytes: PUT /v1/files over HTTP (any size up to max_upload_bytes), fs.write over the socket."""
        upload = getattr(self.client.transport, "upload", None)
        if upload is not None:
            return dict(upload({"session_id": self.session_id, "path": path, "overwrite": overwrite, "mode": mode, "make_parents": make_parents}, data))
        return self.write(path, data, overwrite=overwrite, mode=mode, make_parents=make_parents)

    def edit(self, path: str, edits: Iterable[Edit], *, expect_hash: Optional[str] = None, expect_mtime: Optional[str] = None, dry_run: bool = False) -> Dict[str, Any]:
        """fs.edit: exact replacements, all or none; ``edits`` as (old, new) pairs or {"old", "new", "replace_all"} objects."""
        items = [{"old": e[0], "new": e[1]} if isinstance(e, tuple) else dict(e) for e in edits]
        return self._call("fs.edit", path=path, edits=items, expect_hash=expect_hash, expect_mtime=expect_mtime, dry_run=dry_run or None)

    def list(self, path: Optional[str] = None, *, recursive: bool = False, max_depth: Optional[int] = None, offset: Optional[int] = None, limit: Optional[int] = None, no_ignore: bool = False) -> Dict[str, Any]:
        return self._call("fs.list", path=path, recursive=recursive or None, max_depth=max_depth, offset=offset, limit=limit, no_ignore=no_ignore or None)

    def search(self, pattern: str, path: Optional[str] = None, *, type: Optional[str] = None, offset: Optional[int] = None, limit: Optional[int] = None, no_ignore: bool = False) -> Dict[str, Any]:
        return self._call("fs.search", pattern=pattern, path=path, type=type, offset=offset, limit=limit, no_ignore=no_ignore or None)

    def grep(
        self,
        pattern: str,
        path: Optional[str] = None,
        *,
        glob: Optional[str] = None,
        case_insensitive: bool = False,
        literal: bool = False,
        offset: Optional[int] = None,
        limit: Optional[int] = None,
        no_ignore: bool = False,
    ) -> Dict[str, Any]:
        return self._call(
            "fs.grep",
            pattern=pattern,
            path=path,
            glob=glob,
            case_insensitive=case_insensitive or None,
            literal=literal or None,
            offset=offset,
            limit=limit,
            no_ignore=no_ignore or None,
        )

    def stat(self, path: str, *, follow: Optional[bool] = None) -> Dict[str, Any]:
        return self._call("fs.stat", path=path, follow=follow)

    def exists(self, path: str) -> bool:
        from .errors import ERROR_CLASSES

        try:
            self.stat(path, follow=False)
            return True
        except ERROR_CLASSES["PATH_NOT_FOUND"]:
            return False

    def mkdir(self, path: str, *, parents: bool = False, mode: Union[int, str, None] = None) -> Dict[str, Any]:
        return self._call("fs.mkdir", path=path, parents=parents or None, mode=mode)

    def remove(self, path: str, *, recursive: bool = False) -> Dict[str, Any]:
        return self._call("fs.remove", path=path, recursive=recursive or None)

    def move(self, path: str, to: str, *, overwrite: bool = False, make_parents: bool = False) -> Dict[str, Any]:
        return self._call("fs.move", path=path, to=to, overwrite=overwrite or None, make_parents=make_parents or None)

    def watch(self, path: Optional[str] = None, *, recursive: bool = False) -> WatchStream:
        """fs.watch: change events under a directory until ``unwatch`` (or close)."""
        raw = self.client.transport.stream("fs.watch", compact(session_id=self.session_id, path=path, recursive=recursive or None))
        return WatchStream(raw)

    def unwatch(self, stream_id: str) -> bool:
        return bool(self.client.call("fs.unwatch", {"stream_id": stream_id}).get("stopped", False))
