"""Calling a function in-process through functions-framework, checking every answer
against docs/openapi.yaml on the way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions_framework import create_app

from devstack.processes import ROOT
from tests.openapi import OpenApi


@dataclass
class Reply:
    status: int
    json: Any
    headers: dict[str, str]


class FunctionClient:
    def __init__(self, target: str, spec: OpenApi, server: str):
        self._client = create_app(target, str(ROOT / "functions" / target / "main.py")).test_client()
        self._spec = spec
        self._server = server

    def call(self, method: str, path: str, *, token: str | None = None, json: Any = None,
             headers: dict[str, str] | None = None) -> Reply:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        response = self._client.open(path, method=method, json=json, headers=all_headers)
        body = response.get_json(silent=True)
        self._spec.validate_response(self._server, method, path, response.status_code, body, response.headers)
        return Reply(response.status_code, body, dict(response.headers))

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Reply:
        return self.call("POST", path, **kwargs)
