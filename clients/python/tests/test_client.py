"""What the shared cases do not show: typed events, re-attach from another connection, threads,
the asyncio variant, raw file transfer, the error table, and failures of the connection itself."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import shutil
import threading
import time
import unittest
from typing import Any, Dict, List, Optional

from support import DEADLINE_S, connect, make_workspace, not_configured, transports, wait_for
import trl_client
from trl_client import (
    AsyncClient,
    Client,
    CommandTimeoutError,
    ConnectionClosedError,
    ExitEvent,
    OutputEvent,
    PathExistsError,
    SessionNotFoundError,
    TrlError,
)


class ErrorTable(unittest.TestCase):
    def test_one_class_per_protocol_code(self) -> None:
        codes = os.environ.get("TRL_TEST_ERROR_CODES")
        if not codes:
            self.skipTest("TRL_TEST_ERROR_CODES is not set (test/python-sdk.test.ts passes src/protocol/errors.ts's list)")
        self.assertEqual([c for c, _, _ in trl_client.ERROR_CODES], json.loads(codes))
        for code, name, _ in trl_client.ERROR_CODES:
            cls = getattr(trl_client, name)
            self.assertIs(cls, trl_client.ERROR_CLASSES[code])
            self.assertTrue(issubclass(cls, TrlError))
            self.assertEqual(cls.code, code)
            self.assertEqual(cls.__name__, name)

    def test_an_unknown_code_is_still_a_trl_error_with_its_code(self) -> None:
        e = trl_client.errors.error_from({"code": "SOMETHING_NEW", "message": "m", "details": {"a": 1}})
        self.assertIsInstance(e, TrlError)
        self.assertEqual((e.code, e.message, e.details), ("SOMETHING_NEW", "m", {"a": 1}))


class Packaging(unittest.TestCase):
    def test_every_module_is_python_3_9_syntax_with_lazy_annotations(self) -> None:
        # CI runs a newer Python; this keeps the promise of requires-python >= 3.9 (no match, no X | Y at run time).
        pkg = os.path.dirname(trl_client.__file__)
        modules = [f for f in os.listdir(pkg) if f.endswith(".py")]
        self.assertIn("client.py", modules)
        for name in modules:
            with open(os.path.join(pkg, name), encoding="utf-8") as f:
                text = f.read()
            ast.parse(text, filename=name, feature_version=(3, 9))
            self.assertIn("from __future__ import annotations", text, f"{name} evaluates its annotations at run time")
        self.assertTrue(os.path.exists(os.path.join(pkg, "py.typed")))


class NoDaemon(unittest.TestCase):
    def test_a_missing_socket_says_how_to_start_a_daemon(self) -> None:
        with self.assertRaises(ConnectionClosedError) as cm:
            Client.connect("/nonexistent/trl-test/trl.sock")
        self.assertIn("trl serve", cm.exception.message)
        self.assertEqual(cm.exception.code, "CONNECTION_CLOSED")

    def test_a_token_in_the_url_is_refused(self) -> None:
        with self.assertRaises(ConnectionClosedError):
            Client.connect(url="http://user:pw@127.0.0.1:1", token="x")


class OlderDaemon(unittest.TestCase):
    """A daemon that predates raw_output refuses it before running anything: asked again without it, and from then on."""

    def test_raw_output_is_dropped_for_a_daemon_that_does_not_know_it(self) -> None:
        import socket as socketlib
        import tempfile

        from trl_client.unix import UnixTransport

        path = os.path.join(tempfile.mkdtemp(prefix="trl-py-older-"), "s.sock")
        server = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        seen: List[Dict[str, Any]] = []

        def serve() -> None:
            conn, _ = server.accept()
            with conn, conn.makefile("rb") as rf:
                for line in rf:
                    req = json.loads(line)
                    seen.append(req)
                    if "raw_output" in req["params"]:
                        answer = {"id": req["id"], "ok": False, "error": {"code": "INVALID_PARAMS", "message": "unknown parameter 'raw_output' for exec.run; known: command"}}
                    else:
                        answer = {"id": req["id"], "ok": True, "data": {"stdout": "hi\n", "stderr": "", "encoding": "utf8"}}
                    conn.sendall((json.dumps(answer) + "\n").encode())

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        transport = UnixTransport(path)
        try:
            self.assertEqual(transport.call("exec.run", {"command": "echo hi"})["stdout"], "hi\n")
            self.assertEqual(transport.call("exec.run", {"command": "echo hi"})["stdout"], "hi\n")
        finally:
            transport.close()
            server.close()
        self.assertEqual([("raw_output" in r["params"]) for r in seen], [True, False, False], "asked with raw_output once, then without")


class HttpAuth(unittest.TestCase):
    def test_a_wrong_token_raises_auth_failed(self) -> None:
        kwargs = dict(transports())["http"]
        if kwargs is None:
            self.skipTest(not_configured("http"))
        with self.assertRaises(trl_client.AuthFailedError) as cm:
            Client.connect(url=kwargs["url"], token="not-the-token-" + "x" * 40)
        self.assertEqual(cm.exception.code, "AUTH_FAILED")


class Https(unittest.TestCase):
    def setUp(self) -> None:
        url, token, ca = (os.environ.get(k) for k in ("TRL_TEST_HTTPS_URL", "TRL_TEST_HTTPS_TOKEN", "TRL_TEST_CAFILE"))
        if not (url and token and ca):
            self.skipTest("HTTPS is not configured: TRL_TEST_HTTPS_URL, TRL_TEST_HTTPS_TOKEN and TRL_TEST_CAFILE (test/python-sdk.test.ts sets them)")
        self.url, self.token, self.ca = url, token, ca

    def test_a_trusted_certificate_carries_calls_and_streams(self) -> None:
        self.assertTrue(self.url.startswith("https://"))
        with Client.connect(url=self.url, token=self.token, cafile=self.ca) as c:
            self.assertEqual(c.run("echo secure").stdout, "secure\n")
            self.assertEqual(c.stream("echo streamed").collect().stdout, "streamed\n")

    def test_an_untrusted_certificate_is_refused_unless_told_otherwise(self) -> None:
        with self.assertRaises(ConnectionClosedError) as cm:
            Client.connect(url=self.url, token=self.token)
        self.assertRegex(cm.exception.message, "(?i)certificate")
        with Client.connect(url=self.url, token=self.token, verify=False) as c:
            self.assertEqual(c.run("echo unverified").stdout, "unverified\n")


def _client_tests(name: str, kwargs: Optional[Dict[str, Any]]) -> type:
    class ClientTests(unittest.TestCase):
        client: Client

        @classmethod
        def setUpClass(cls) -> None:
            if kwargs is None:
                raise unittest.SkipTest(not_configured(name))
            cls.client = connect(kwargs)

        @classmethod
        def tearDownClass(cls) -> None:
            cls.client.close()

        def setUp(self) -> None:
            self.workspace = make_workspace()
            self.session = self.client.create_session(working_dir=self.workspace)

        def tearDown(self) -> None:
            try:
                self.session.destroy(force=True)
            except SessionNotFoundError:
                pass
            shutil.rmtree(self.workspace, ignore_errors=True)

        def test_stream_yields_typed_events_in_order(self) -> None:
            events = list(self.session.stream("echo one; echo two >&2; exit 5"))
            out = [e for e in events if isinstance(e, OutputEvent)]
            self.assertEqual("".join(e.data for e in out if e.stream == "stdout"), "one\n")
            self.assertEqual("".join(e.data for e in out if e.stream == "stderr"), "two\n")
            self.assertIsInstance(events[-1], ExitEvent)
            last = events[-1]
            assert isinstance(last, ExitEvent)
            self.assertEqual(last.result.exit_code, 5)
            self.assertFalse(last.result.ok)

        def test_bytes_in_and_out(self) -> None:
            r = self.session.run("od -An -tx1 | tr -d ' \\n'", stdin=b"\x00\xff\x10")
            self.assertEqual(r.stdout, "00ff10")
            raw = self.session.run("printf '\\377\\000'", encoding="base64")
            self.assertEqual(raw.stdout, "/wA=")

        def test_results_are_the_same_with_the_output_as_raw_bytes_or_in_the_json(self) -> None:
            # On the socket the client asks for raw_output by default; over HTTP both calls carry JSON.
            with open(os.path.join(self.workspace, "mixed.bin"), "wb") as f:
                f.write("ok é ".encode() + bytes([0xFF, 0xC3, 0x0A, 0xE2, 0x82]) + "€ end".encode())
            cases: List[Dict[str, Any]] = [
                {"command": "printf 'a\\tb \\\\ \"q\"\\n'; printf err >&2"},
                {"command": "cat mixed.bin; cat mixed.bin >&2"},
                {"command": "seq 1 3000", "max_output_bytes": 1000},
                {"command": "for i in $(seq 1 300); do printf 'é€'; done", "max_output_bytes": 301},
                {"command": "cat mixed.bin", "encoding": "base64"},
            ]
            sid = self.session.id
            for params in cases:
                via_json = dict(self.client.call("exec.run", {"session_id": sid, **params, "raw_output": False}))
                default = dict(self.client.call("exec.run", {"session_id": sid, **params}))
                self.assertNotIn("raw_output", default)
                for r in (via_json, default):
                    r.pop("command_id")
                    r.pop("duration_ms")
                self.assertEqual(default, via_json, params["command"])

        def test_reattach_from_another_connection_resumes_at_the_offsets(self) -> None:
            cmd = self.session.start("echo one; read go; echo two", stdin_open=True, timeout_s=DEADLINE_S)
            first = cmd.attach()
            seen = ""
            for ev in first:
                if isinstance(ev, OutputEvent):
                    seen += ev.data
                    if "one\n" in seen:
                        break
            first.close()
            offsets = dict(first.offsets)
            self.assertEqual(offsets["stdout"], 4)
            other = connect(kwargs or {})
            try:
                again = other.command(cmd.id)
                again.send_input("go\n", eof=True)
                resumed = again.attach(from_offset=offsets).collect()
            finally:
                other.close()
            self.assertEqual(resumed.stdout, "two\n")
            self.assertEqual(resumed.exit_code, 0)

        def test_a_long_wait_does_not_hold_back_other_threads(self) -> None:
            cmd = self.session.start("read line; echo \"$line\"", stdin_open=True, timeout_s=DEADLINE_S)
            results: List[Any] = []
            waiter = threading.Thread(target=lambda: results.append(cmd.wait()))
            waiter.start()
            # While the waiter blocks in exec.wait on the shared connection, other calls get their answers.
            wait_for(lambda: True if cmd.info()["state"] == "running" else None, "the command to run")
            self.assertEqual(self.session.run("echo meanwhile").stdout, "meanwhile\n")
            cmd.send_input("done\n", eof=True)
            waiter.join(60)
            self.assertFalse(waiter.is_alive(), "exec.wait did not return after the command ended")
            self.assertEqual(results[0].stdout, "done\n")

        def test_wait_with_a_timeout_raises_and_the_command_runs_on(self) -> None:
            cmd = self.session.start("sleep 60")
            with self.assertRaises(CommandTimeoutError) as cm:
                cmd.wait(timeout_s=0.2)
            self.assertEqual(cm.exception.details.get("command_id"), cmd.id)
            self.assertEqual(cmd.info()["state"], "running")
            self.assertEqual(cmd.cancel(), [cmd.id])

        def test_signal_by_number(self) -> None:
            cmd = self.session.start("echo ready; sleep 60")
            wait_for(lambda: True if "ready" in cmd.output(wait_ms=1000).data else None, "ready")
            self.assertGreaterEqual(cmd.signal(15), 1)
            self.assertEqual(cmd.wait().signal, "SIGTERM")

        def test_files_round_trip_bytes_and_typed_errors(self) -> None:
            blob = bytes(range(256)) * 300
            self.session.files.upload("bin/blob", blob, make_parents=True)
            self.assertEqual(self.session.files.read_bytes("bin/blob"), blob)
            self.assertEqual(self.session.files.stat("bin/blob")["size"], len(blob))
            with self.assertRaises(PathExistsError):
                self.session.files.write("bin/blob", "x")
            self.session.files.write("t.txt", "alpha beta\n")
            self.session.files.edit("t.txt", [("beta", "gamma")])
            self.assertEqual(self.session.files.read_text("t.txt"), "alpha gamma\n")
            names = [e["name"] for e in self.session.files.list()["entries"]]
            self.assertEqual(sorted(names), ["bin", "t.txt"])
            self.session.files.remove("bin", recursive=True)
            self.assertFalse(self.session.files.exists("bin"))

        def test_watch_yields_changes_until_unwatch(self) -> None:
            with self.session.files.watch() as w:
                seen = threading.Event()

                def touch() -> None:
                    # Writes until the watch reports one (however late it is armed); at the deadline, ends the watch so the loop below ends.
                    end = time.monotonic() + DEADLINE_S
                    while not seen.is_set() and time.monotonic() < end:
                        self.session.files.write("watched.txt", "x", overwrite=True)
                        seen.wait(0.2)
                    if not seen.is_set():
                        self.session.files.unwatch(w.stream_id)

                writer = threading.Thread(target=touch)
                writer.start()
                kinds: List[str] = []
                for ev in w:
                    if isinstance(ev, trl_client.ChangeEvent) and ev.path.endswith("watched.txt") and not seen.is_set():
                        kinds.append(ev.kind)
                        seen.set()
                        self.assertTrue(self.session.files.unwatch(w.stream_id))
                    if isinstance(ev, trl_client.WatchEndEvent):
                        break
                seen.set()
                writer.join()
            self.assertEqual(len(kinds), 1, "no change event for watched.txt")

        def test_sessions_are_listed_updated_and_their_commands_listed(self) -> None:
            self.assertIn(self.session.id, [x["session_id"] for x in self.client.sessions()])
            info = self.session.update(env={"ADDED": "v"}, name=f"py-{self.session.id[:8]}")
            self.assertEqual((info["env_keys"], info["name"]), (["ADDED"], f"py-{self.session.id[:8]}"))
            self.assertEqual(self.session.run('echo "$ADDED"').stdout, "v\n")
            listed = self.session.commands()
            self.assertEqual(len(listed), 1)
            self.assertEqual(listed[0]["state"], "exited")

        def test_a_destroyed_session_raises_session_not_found(self) -> None:
            self.session.destroy()
            with self.assertRaises(SessionNotFoundError) as cm:
                self.session.run("true")
            self.assertEqual(cm.exception.code, "SESSION_NOT_FOUND")
            self.assertIsInstance(cm.exception, TrlError)

        def test_a_closed_client_raises_connection_closed(self) -> None:
            c = connect(kwargs or {})
            c.close()
            with self.assertRaises(ConnectionClosedError):
                c.ping()

        def test_asyncio_run_stream_and_background(self) -> None:
            async def main() -> Dict[str, Any]:
                c = await AsyncClient.connect(**(kwargs or {}))
                async with c:
                    s = c.session(self.session.id)
                    r = await s.run("echo async")
                    st = await s.stream("echo a; echo b")
                    pieces = [ev.data async for ev in st if isinstance(ev, OutputEvent)]
                    cmd = await s.start("read x; echo \"got $x\"", stdin_open=True, timeout_s=DEADLINE_S)
                    # The wait and the input run at once: the wait must not hold the connection.
                    waited = asyncio.ensure_future(cmd.wait())
                    await cmd.send_input("it\n", eof=True)
                    done = await waited
                    return {"run": r.stdout, "stream": "".join(pieces), "exit": st.result.exit_code if st.result else None, "bg": done.stdout}

            got = asyncio.run(main())
            self.assertEqual(got, {"run": "async\n", "stream": "a\nb\n", "exit": 0, "bg": "got it\n"})

    ClientTests.__name__ = ClientTests.__qualname__ = f"Client_{name}"
    return ClientTests


for _name, _kwargs in transports():
    globals()[f"Client_{_name}"] = _client_tests(_name, _kwargs)
