"""Google Meet REST v2: who really attended a meeting (conference records, participants).

Built once per instance like the Calendar service; used by the attendance job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain.timezones import rfc3339_utc
from shared.google.calendar import GoogleApi, execute

PAGE_SIZE = 100


@dataclass(frozen=True)
class MeetParticipant:
    display_name: str
    user: str | None  # "users/<id>" for signed-in participants
    earliest_start: datetime | None
    latest_end: datetime | None


@dataclass(frozen=True)
class ConferenceRecord:
    name: str
    start: datetime | None
    end: datetime | None
    participants: tuple[MeetParticipant, ...]


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class MeetApi(GoogleApi):
    name, version = "meet", "v2"

    def endpoint(self) -> str:
        return self._settings.meet_api_endpoint

    def conference_records(
        self, credentials: Any, meeting_code: str, started_between: tuple[datetime, datetime] | None = None
    ) -> tuple[ConferenceRecord, ...]:
        """The conferences held in the meeting space with this code, with their participants.

        A space is reusable (a rescheduled event keeps its link): ``started_between`` keeps
        only the conferences that started in that span, so other meetings' participants are
        never fetched.
        """
        if not all(c.isalpha() or c == "-" for c in meeting_code):
            raise ValueError("a Meet meeting code has letters and dashes only")
        query = f'space.meeting_code = "{meeting_code}"'
        if started_between is not None:
            query += (
                f' AND start_time >= "{rfc3339_utc(started_between[0])}" AND start_time <= "{rfc3339_utc(started_between[1])}"'
            )
        records = []
        for item in self._pages(self.service().conferenceRecords().list, credentials, filter=query):
            participants = tuple(
                MeetParticipant(
                    display_name=(p.get("signedinUser") or p.get("anonymousUser") or p.get("phoneUser") or {}).get(
                        "displayName", ""
                    ),
                    user=(p.get("signedinUser") or {}).get("user"),
                    earliest_start=_time(p.get("earliestStartTime")),
                    latest_end=_time(p.get("latestEndTime")),
                )
                for p in self._pages(self.service().conferenceRecords().participants().list, credentials, parent=item["name"])
            )
            records.append(ConferenceRecord(item["name"], _time(item.get("startTime")), _time(item.get("endTime")), participants))
        return tuple(records)

    def _pages(self, method: Any, credentials: Any, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while True:
            page = execute(method(pageSize=PAGE_SIZE, pageToken=token, **params), credentials, self._settings)
            items.extend(page.get("conferenceRecords", page.get("participants", [])))
            token = page.get("nextPageToken")
            if not token:
                return items
