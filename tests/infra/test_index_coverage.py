"""The query recorder behind the index-coverage check, on the real emulator.

The check itself runs at the end of a full run (tests/conftest.py ``pytest_sessionfinish`` →
``firestore_indexes.session_check``): every query the suite executed was recorded by then.
These tests prove the recording: in this process (installed by conftest at session start) and
in a child Python process (``sitecustomize.py`` on PYTHONPATH, as function subprocesses get it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from google.cloud.firestore_v1.base_query import FieldFilter

from devstack.processes import ROOT
from shared.domain.models import InterviewStatus
from tests import factories
from tests.factories import NOW
from tests.infra.firestore_indexes import RecordedQuery, read_query_log, required_index
from tests.infra.querylog import ENV, subprocess_env


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_app_queries_in_this_process_are_recorded_with_their_shape_and_site(container, tmp_path, monkeypatch):
    log = tmp_path / "queries.jsonl"
    monkeypatch.setenv(ENV, str(log))  # the recorder reads the variable at every query
    container.interviews.add(factories.interview())
    items, _ = container.interviews.list(
        workspace_id=factories.WORKSPACE,
        host_uid="uid-hana",
        statuses=(InterviewStatus.CONFIRMED, InterviewStatus.PENDING),
        start_from=NOW - timedelta(days=1),
        start_to=NOW + timedelta(days=30),
        descending=True,
        limit=5,
        cursor=None,
    )
    assert len(items) == 1
    # A test helper's own query: recorded, without an application site, and with its aggregation.
    count = container.firestore.collection("outbox").where(filter=FieldFilter("status", "==", "sent")).count()
    assert count.get()[0][0].value == 0

    app, helper = _lines(log)
    assert app["site"].startswith("shared/adapters/firestore.py:")
    assert {k: v for k, v in app.items() if k != "site"} == {
        "collection": "interviews",
        "collection_group": False,
        "aggregations": [],
        "filters": [
            {"field": "workspace_id", "op": "=="},
            {"field": "host.uid", "op": "=="},
            {"field": "status", "op": "in"},
            {"field": "start", "op": ">="},
            {"field": "start", "op": "<"},
        ],
        "orders": [{"field": "start", "direction": "DESCENDING"}, {"field": "__name__", "direction": "DESCENDING"}],
    }
    needed = required_index(RecordedQuery.from_json(app))
    assert needed is not None and needed.describe() == ("(workspace_id ASC, host.uid ASC, status ASC, start DESC, __name__ DESC)")
    assert helper["site"] is None and helper["collection"] == "outbox"
    assert helper["aggregations"] == [{"op": "count", "field": None}]


def test_a_child_process_records_through_sitecustomize(firestore_emulator, project_id, tmp_path):
    log = tmp_path / "child.jsonl"
    env = (
        {k: v for k, v in os.environ.items() if k != ENV}
        | subprocess_env(log, str(ROOT))
        | {"FIRESTORE_EMULATOR_HOST": firestore_emulator.extra["host"]}
    )
    program = (
        "import sys\n"
        "assert 'convene_querylog' in sys.modules, 'sitecustomize did not install the recorder'\n"
        "assert 'google.cloud.firestore_v1' not in sys.modules, 'firestore must load only when used'\n"
        "from google.cloud import firestore\n"
        "from google.cloud.firestore_v1.base_query import FieldFilter\n"
        "from shared.adapters.firestore import InterviewRepository\n"
        f"db = firestore.Client(project={project_id!r})\n"
        "list(db.collection('outbox').where(filter=FieldFilter('status', 'in', ['sent']))"
        ".where(filter=FieldFilter('updated_at', '<', 1)).stream())\n"
        "InterviewRepository(db).list(workspace_id='w', host_uid=None, statuses=(), start_from=None,"
        " start_to=None, descending=False, limit=1, cursor=None)\n"
    )
    child = subprocess.run([sys.executable, "-c", program], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    helper, app = read_query_log(log)
    assert (helper.collection, helper.site) == ("outbox", None)
    assert [(f.field, f.op) for f in helper.filters] == [("status", "in"), ("updated_at", "<")]
    assert app.collection == "interviews" and app.site.startswith("shared/adapters/firestore.py:")
    assert [(o.field, o.direction) for o in app.orders] == [("start", "ASCENDING"), ("__name__", "ASCENDING")]


def test_without_the_log_variable_sitecustomize_does_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != ENV} | subprocess_env(tmp_path / "unused.jsonl", str(ROOT))
    del env[ENV]
    child = subprocess.run(
        [sys.executable, "-c", "import sys; print('convene_querylog' in sys.modules)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (child.returncode, child.stdout.strip()) == (0, "False"), child.stderr
