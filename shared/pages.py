"""Small server-rendered pages (OAuth result, later the join page), with Jinja2 autoescaping.

Jinja2 is imported on first render only: JSON requests never pay for it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"
_environment: Any = None
_lock = threading.Lock()


def render(template: str, **context: Any) -> str:
    global _environment
    with _lock:
        if _environment is None:
            import jinja2

            _environment = jinja2.Environment(
                loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
            )
    return _environment.get_template(template).render(**context)
