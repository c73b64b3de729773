"""Every ```python example of README.md runs, as written, against the test daemon."""

from __future__ import annotations

import contextlib
import io
import os
import re
import unittest
from typing import Dict, List
from unittest import mock

from support import HERE, transports

README = os.path.join(HERE, "..", "README.md")


def examples() -> List[str]:
    with open(README, encoding="utf-8") as f:
        return re.findall(r"^```python\n(.*?)^```$", f.read(), flags=re.S | re.M)


class Readme(unittest.TestCase):
    def test_every_example_runs(self) -> None:
        conf = dict(transports())
        sock, web = conf["socket"], conf["http"]
        if sock is None or web is None:
            self.skipTest("the README's examples need both transports: TRL_TEST_SOCKET, TRL_TEST_URL and TRL_TEST_TOKEN")
        env: Dict[str, str] = {"TRL_SOCKET_PATH": sock["socket_path"], "TRL_URL": web["url"], "TRL_AUTH_TOKEN": web["token"]}
        blocks = examples()
        self.assertGreaterEqual(len(blocks), 6, "README.md lost its examples")
        for i, code in enumerate(blocks):
            with self.subTest(example=i + 1, first_line=code.splitlines()[0]):
                out = io.StringIO()
                with mock.patch.dict(os.environ, env), contextlib.redirect_stdout(out):
                    exec(compile(code, f"README.md example {i + 1}", "exec"), {"__name__": "__readme__"})
                self.assertNotEqual(out.getvalue(), "", "the example printed nothing")
