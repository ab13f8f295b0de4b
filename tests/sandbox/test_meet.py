"""The sandbox's Meet v2 surface, read through google-api-python-client as the project reads it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from devstack.sandbox import SandboxServer

PROJECT = "convene-meet-test"
CLIENT_ID = "convene-test.apps.googleusercontent.com"
HOST, GUEST = "ada@example.com", "bob@example.com"
MEET_READONLY = "https://www.googleapis.com/auth/meetings.space.readonly"
CALENDAR = "https://www.googleapis.com/auth/calendar"
CODE = "abc-mnop-xyz"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(PROJECT) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(server: SandboxServer) -> None:
    server.reset()
    server.register_oauth_client(CLIENT_ID, "secret", ["http://localhost:5173/oauth/callback"])


def _meet(server: SandboxServer, email: str = HOST, scopes: tuple[str, ...] = (MEET_READONLY,)) -> Any:
    token = server.sandbox.oauth.issue_tokens(CLIENT_ID, email, list(scopes))["access_token"]
    return build(
        "meet",
        "v2",
        credentials=Credentials(token=token),
        static_discovery=True,
        client_options={"api_endpoint": server.url + "/"},
    )


def _interview(
    server: SandboxServer, code: str = CODE, start: str = "2030-03-04T10:00:00Z", end: str | None = "2030-03-04T11:00:00Z"
) -> str:
    return server.add_conference_record(
        code,
        start,
        end,
        participants=[
            {
                "display_name": "Bob Guest",
                "email": GUEST,
                "earliest_start": "2030-03-04T10:02:00Z",
                "latest_end": "2030-03-04T10:58:00Z",
            },
            {
                "display_name": "Ada Host",
                "email": HOST,
                "earliest_start": "2030-03-04T09:59:00Z",
                "latest_end": "2030-03-04T11:00:00Z",
            },
            {"display_name": "Visitor", "earliest_start": "2030-03-04T10:30:00Z"},
            {
                "display_name": "+44 20 ***-**89",
                "phone": True,
                "earliest_start": "2030-03-04T10:05:00Z",
                "latest_end": "2030-03-04T10:20:00Z",
            },
        ],
    )


def test_records_by_meeting_code_with_participants(server: SandboxServer) -> None:
    guest_sub = server.add_google_account(GUEST).sub
    earlier = _interview(server, start="2030-03-01T10:00:00Z", end="2030-03-01T10:30:00Z")
    latest = _interview(server)
    _interview(server, code="xyz-abcd-efg")
    records = _meet(server).conferenceRecords()

    listed = records.list(filter=f'space.meeting_code = "{CODE}"').execute()["conferenceRecords"]
    record = records.get(name=latest).execute()
    participants = records.participants().list(parent=latest).execute()["participants"]

    assert [r["name"] for r in listed] == [latest, earlier]  # newest first
    assert listed[0]["space"] == listed[1]["space"] and listed[0]["space"].startswith("spaces/")
    assert record == {
        "name": latest,
        "space": listed[0]["space"],
        "startTime": "2030-03-04T10:00:00Z",
        "endTime": "2030-03-04T11:00:00Z",
        "expireTime": "2030-04-03T11:00:00Z",
    }
    by_name = {p.get("signedinUser", p.get("anonymousUser", p.get("phoneUser")))["displayName"]: p for p in participants}
    assert list(by_name) == ["Visitor", "+44 20 ***-**89", "Bob Guest", "Ada Host"]  # latest join first
    bob = by_name["Bob Guest"]
    assert bob["signedinUser"] == {"user": f"users/{guest_sub}", "displayName": "Bob Guest"}
    assert (bob["earliestStartTime"], bob["latestEndTime"]) == ("2030-03-04T10:02:00Z", "2030-03-04T10:58:00Z")
    assert "anonymousUser" in by_name["Visitor"] and "latestEndTime" not in by_name["Visitor"]
    assert "phoneUser" in by_name["+44 20 ***-**89"]
    assert records.participants().get(name=bob["name"]).execute() == bob
    sessions = records.participants().participantSessions().list(parent=bob["name"]).execute()["participantSessions"]
    assert [(s["startTime"], s["endTime"]) for s in sessions] == [("2030-03-04T10:02:00Z", "2030-03-04T10:58:00Z")]


def test_time_filters_and_paging(server: SandboxServer) -> None:
    first = _interview(server, start="2030-03-01T10:00:00Z", end="2030-03-01T11:00:00Z")
    second = _interview(server, start="2030-03-02T10:00:00Z", end="2030-03-02T11:00:00Z")
    ongoing = _interview(server, start="2030-03-03T10:00:00Z", end=None)
    records = _meet(server).conferenceRecords()

    window = records.list(filter='start_time>="2030-03-02T00:00:00Z" AND start_time<"2030-03-03T00:00:00Z"').execute()
    running = records.list(filter="end_time IS NULL").execute()
    page_one = records.list(pageSize=2).execute()
    page_two = records.list(pageSize=2, pageToken=page_one["nextPageToken"]).execute()
    still_there = records.participants().list(parent=ongoing, filter="latest_end_time IS NULL").execute()

    assert [r["name"] for r in window["conferenceRecords"]] == [second]
    assert [r["name"] for r in running["conferenceRecords"]] == [ongoing]
    assert "endTime" not in running["conferenceRecords"][0] and "expireTime" not in running["conferenceRecords"][0]
    assert [r["name"] for r in page_one["conferenceRecords"] + page_two["conferenceRecords"]] == [ongoing, second, first]
    assert "nextPageToken" not in page_two
    assert [p["anonymousUser"]["displayName"] for p in still_there["participants"]] == ["Visitor"]
    assert records.list(filter='space.meeting_code = "qqq-qqqq-qqq"').execute() == {}


def test_bad_filters_and_missing_records(server: SandboxServer) -> None:
    records = _meet(server).conferenceRecords()

    for bad, status in (("meeting_code = 1", 400), ('start_time >= "yesterday"', 400), ('space.name > "spaces/a"', 400),
                        ('space.meeting_code = "a" OR end_time IS NULL', 501)):  # fmt: skip
        with pytest.raises(HttpError) as refused:
            records.list(filter=bad).execute()
        assert refused.value.status_code == status, bad
    with pytest.raises(HttpError) as missing:
        records.get(name="conferenceRecords/nope").execute()
    assert (missing.value.status_code, missing.value.reason) == (404, "Requested entity was not found.")


def test_scopes_and_organizer_visibility(server: SandboxServer) -> None:
    private = server.add_conference_record(CODE, "2030-03-04T10:00:00Z", organizer=HOST)

    assert _meet(server).conferenceRecords().get(name=private).execute()["name"] == private
    with pytest.raises(HttpError) as other_account:
        _meet(server, GUEST).conferenceRecords().get(name=private).execute()
    assert other_account.value.status_code == 404
    assert _meet(server, GUEST).conferenceRecords().list().execute() == {}
    with pytest.raises(HttpError) as wrong_scope:
        _meet(server, scopes=(CALENDAR,)).conferenceRecords().list().execute()
    assert wrong_scope.value.status_code == 403


def test_control_api_adds_records_over_http(server: SandboxServer) -> None:
    url = server.url + "/sandbox/meet/conference-records"
    body: dict[str, Any] = {
        "meeting_code": CODE,
        "start": "2030-03-04T10:00:00Z",
        "participants": [{"display_name": "Ada Host", "email": HOST, "earliest_start": "2030-03-04T10:00:00Z"}],
    }

    created = requests.post(url, json=body, timeout=5)
    refused = requests.post(url, json={**body, "meeting_code": "ABC-1"}, timeout=5)

    assert created.status_code == 200 and created.json()["name"].startswith("conferenceRecords/")
    assert refused.status_code == 400
    participants = _meet(server).conferenceRecords().participants().list(parent=created.json()["name"]).execute()
    assert participants["participants"][0]["signedinUser"]["displayName"] == "Ada Host"
