"""Calling a function in-process through functions-framework, checking every answer
against docs/openapi.yaml on the way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from functions_framework import create_app

from devstack.processes import ROOT
from tests.openapi import OpenApi


@dataclass
class Reply:
    status: int
    json: Any
    headers: dict[str, str]
    text: str = ""
    set_cookies: list[str] = field(default_factory=list)


class FunctionClient:
    def __init__(self, target: str, spec: OpenApi, server: str):
        # No cookie jar: a test sends the cookies of the "browser" it plays explicitly.
        self._client = create_app(target, str(ROOT / "functions" / target / "main.py")).test_client(use_cookies=False)
        self._spec = spec
        self._server = server

    def call(
        self, method: str, path: str, *, token: str | None = None, json: Any = None, headers: dict[str, str] | None = None
    ) -> Reply:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        response = self._client.open(path, method=method, json=json, headers=all_headers)
        body = response.get_json(silent=True)
        self._spec.validate_response(self._server, method, path, response.status_code, body, response.headers)
        reply = Reply(response.status_code, body, dict(response.headers))
        reply.text = response.get_data(as_text=True)
        reply.set_cookies = response.headers.getlist("Set-Cookie")
        return reply

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Reply:
        return self.call("POST", path, **kwargs)
