"""Runs one case of test/cases/client-cases.json through the Python client's own API (test/cases/README.md)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from typing import Any, Dict, Optional

from support import make_workspace, wait_for
from trl_client import Client, ExecResult, OutputChunk, TrlError

_REF = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def substitute(value: Any, names: Dict[str, str]) -> Any:
    """``${name}`` of a known name replaced in every string; other ``${…}`` left alone."""
    if isinstance(value, str):
        return _REF.sub(lambda m: names.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [substitute(v, names) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, names) for k, v in value.items()}
    return value


def _typed(obj: Any) -> Dict[str, Any]:
    """A typed result as a dict of its fields (what the API gives), with the raw fields the type does not have."""
    if isinstance(obj, ExecResult):
        d = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name != "raw"}
        return {**obj.raw, **d}
    if isinstance(obj, OutputChunk):
        return dataclasses.asdict(obj)
    return dict(obj)


def call_step(c: Client, method: str, params: Dict[str, Any]) -> Dict[str, Any]:
    """One step through the API a Python user would call for this method."""
    p = dict(params)
    if method in ("exec.run", "exec.stream", "exec.start"):
        session = c.session(p.pop("session_id"))
        command, argv, stdin = p.pop("command", None), p.pop("argv", None), p.pop("stdin", None)
        if method == "exec.run":
            return _typed(session.run(command, argv=argv, stdin=stdin, **p))
        if method == "exec.stream":
            return _typed(session.stream(command, argv=argv, stdin=stdin, **p).collect())
        cmd = session.start(command, argv=argv, stdin=stdin, **p)
        return {"command_id": cmd.id, "pid": cmd.pid}
    if method.startswith("exec.") and "command_id" in p:
        cmd = c.command(p.pop("command_id"))
        if method == "exec.wait":
            return _typed(cmd.wait(**p))
        if method == "exec.attach":
            return _typed(cmd.attach(**p).collect())
        if method == "exec.output":
            return _typed(cmd.output(**p))
        if method == "exec.input":
            return _typed(cmd.send_input(**p))
        if method == "exec.signal":
            return {"delivered": cmd.signal(p["signal"])}
        if method == "exec.cancel":
            return {"cancelled": cmd.cancel()}
    if method.startswith("fs.") and "session_id" in p:
        files = c.session(p.pop("session_id")).files
        if method == "fs.write":
            return files.write(p.pop("path"), p.pop("content"), **p)
        if method == "fs.read":
            return files.read(p.pop("path"), **p)
    if method in ("session.info", "session.destroy"):
        session = c.session(p.pop("session_id"))
        return session.info() if method == "session.info" else session.destroy(**p)
    if method == "await_output":
        cmd = c.command(p["command_id"])
        stream, text = p.get("stream", "stdout"), p["contains"]

        def seen() -> Optional[bool]:
            return True if text in cmd.output(stream, 0, wait_ms=1000).data else None

        wait_for(seen, f"{text!r} in the {stream} of {cmd.id}")
        return {}
    # Anything else: the raw call every client has.
    data = c.call(method, p)
    return dict(data) if isinstance(data, dict) else {"data": data}


def run_case(c: Client, case: Dict[str, Any]) -> None:
    """Create the case's workspace and session, run its steps, check each; raise AssertionError naming the step."""
    workspace = make_workspace()
    session = c.create_session(working_dir=workspace, **case.get("session", {}))
    names = {"session": session.id, "workspace": workspace}
    try:
        for i, step in enumerate(case["steps"]):
            where = f"step {i + 1} ({step['method']})"
            params = substitute(step.get("params", {}), names)
            try:
                result = call_step(c, step["method"], params)
            except TrlError as e:
                if step.get("error") == e.code:
                    continue
                raise AssertionError(f"{where} failed with {e.code}: {e.message}") from e
            if "error" in step:
                raise AssertionError(f"{where} succeeded, but the case expects {step['error']}: {json.dumps(result)[:500]}")
            if step.get("save"):
                names[step["save"]] = str(result["command_id"])
            for field, want in substitute(step.get("expect", {}), names).items():
                got = result.get(field, "<missing>")
                if got != want:
                    raise AssertionError(f"{where}: {field} is {got!r}, expected {want!r}")
            for field, text in substitute(step.get("contains", {}), names).items():
                if text not in str(result.get(field, "")):
                    raise AssertionError(f"{where}: {field} {result.get(field)!r} does not contain {text!r}")
    finally:
        try:
            session.destroy(force=True)
        except TrlError:
            pass  # the case destroyed it itself
        shutil.rmtree(workspace, ignore_errors=True)
