"""The shared behaviour cases (test/cases/client-cases.json) through the Python client, over each transport."""

from __future__ import annotations

import re
import unittest
from typing import Any, Callable, Dict, Optional

from case_runner import run_case
from support import connect, load_cases, not_configured, transports
from trl_client import Client


def _make_test(case: Dict[str, Any]) -> Callable[[Any], None]:
    def test(self: Any) -> None:
        run_case(self.client, case)

    # No docstring: unittest -v then reports each case on one line, which test/python-sdk.test.ts counts.
    return test


def _suite_for(name: str, kwargs: Optional[Dict[str, Any]]) -> type:
    class Cases(unittest.TestCase):
        client: Client

        @classmethod
        def setUpClass(cls) -> None:
            if kwargs is None:
                raise unittest.SkipTest(not_configured(name))
            cls.client = connect(kwargs)

        @classmethod
        def tearDownClass(cls) -> None:
            cls.client.close()

    for i, case in enumerate(load_cases()):
        slug = re.sub(r"[^a-z0-9]+", "_", case["name"].lower()).strip("_")
        setattr(Cases, f"test_{i:02d}_{slug}", _make_test(case))
    Cases.__name__ = Cases.__qualname__ = f"Cases_{name}"
    return Cases


for _name, _kwargs in transports():
    globals()[f"Cases_{_name}"] = _suite_for(_name, _kwargs)
