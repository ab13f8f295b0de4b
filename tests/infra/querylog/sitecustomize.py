"""Loaded by Python at start-up when this folder is on PYTHONPATH (tests only).

With ``CONVENE_TEST_QUERY_LOG`` set, installs the Firestore query recorder
(``convene_querylog``) in this process; without it, does nothing. Either way it then runs the
``sitecustomize`` this one shadows (e.g. the distribution's), so nothing else changes.
"""

import importlib.machinery
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))

if os.environ.get("CONVENE_TEST_QUERY_LOG"):
    try:
        import convene_querylog

        convene_querylog.install()
    except Exception as error:  # noqa: BLE001 - never stop the interpreter from starting
        print(f"convene_querylog: not installed: {error!r}", file=sys.stderr)


def _chain() -> None:
    others = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


_chain()
