"""Local stand-in for the Google endpoints Convene calls, for the real client libraries.

See docs/sandbox.md. `SandboxServer` runs it in-process; `python -m devstack.sandbox`
runs it as a process.
"""

from .app import Sandbox
from .core import GoogleError
from .server import SandboxServer

__all__ = ["GoogleError", "Sandbox", "SandboxServer"]
