"""Google Calendar v3 through google-api-python-client.

The service object is built once per instance from the discovery document that ships in
the package (no network). httplib2 is not thread-safe, so every call gets its own
``AuthorizedHttp``. googleapiclient retries 429, 5xx, 403 rate-limit answers and socket
timeouts with randomised exponential backoff (``num_retries``); other 4xx are final.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from shared.config import Settings
from shared.domain.connections import CalendarEntry, GoogleAuthRequired
from shared.errors import Unavailable, UpstreamError

PAGE_SIZE = 250
# freebusy.query's own limits: at most 50 calendars (calendarExpansionMax, documented) and a
# window of at most 90 days (undocumented; Google answers 400 `timeRangeTooLong` beyond it,
# see devstack/sandbox/calendar.py). Callers keep within, so one query always suffices.
FREEBUSY_MAX_CALENDARS = 50
FREEBUSY_MAX_RANGE = timedelta(days=90)


@dataclass(frozen=True)
class FreeBusy:
    """The answer of one freebusy.query over several calendars.

    ``busy``: the busy periods of all calendars together, as aware UTC ``(start, end)`` pairs
    (end exclusive), sorted, overlapping or touching periods merged. ``errors``: calendar id →
    Google's reason (e.g. ``notFound``) for each calendar Google could not answer for; such a
    calendar's time is unknown, not free, and the caller decides what that means.
    """

    busy: tuple[tuple[datetime, datetime], ...]
    errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class GoogleApi:
    """One discovery-based service per instance, built on first use and shared by all requests."""

    name = ""
    version = ""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._lock = threading.Lock()
        self._service: Any = None

    def endpoint(self) -> str:
        raise NotImplementedError

    def service(self) -> Any:
        with self._lock:
            if self._service is None:
                self._service = build_service(self.name, self.version, self._settings, self.endpoint())
            return self._service


class CalendarApi(GoogleApi):
    name, version = "calendar", "v3"

    def endpoint(self) -> str:
        return self._settings.calendar_api_endpoint

    def execute(self, request: Any, credentials: Any) -> Any:
        return execute(request, credentials, self._settings)

    def list_calendars(self, credentials: Any) -> tuple[CalendarEntry, ...]:
        entries: list[CalendarEntry] = []
        page_token = None
        while True:
            page = self.execute(self.service().calendarList().list(maxResults=PAGE_SIZE, pageToken=page_token), credentials)
            for item in page.get("items", []):
                entries.append(
                    CalendarEntry(
                        id=item["id"],
                        summary=item.get("summaryOverride") or item.get("summary", ""),
                        primary=bool(item.get("primary", False)),
                        access_role=item.get("accessRole", ""),
                        time_zone=item.get("timeZone"),
                        color=item.get("backgroundColor"),
                    )
                )
            page_token = page.get("nextPageToken")
            if not page_token:
                return tuple(entries)

    def free_busy(self, credentials: Any, calendar_ids: Sequence[str], time_min: datetime, time_max: datetime) -> FreeBusy:
        """Busy periods of ``calendar_ids`` in [time_min, time_max) from ONE freebusy.query.

        ``ValueError`` before any call for naive or empty windows, over 50 distinct calendars or
        a window over 90 days. No calendar: no call, nothing busy. Errors as ``execute`` maps
        them (429/5xx after its retries: ``Unavailable``; other refusals: ``UpstreamError``);
        Google refusing the grant while the call refreshes the token: ``GoogleAuthRequired``
        (``needs_reauth``), as the credentials manager raises it.
        """
        ids = list(dict.fromkeys(calendar_ids))  # in order, each once
        if time_min.tzinfo is None or time_max.tzinfo is None:
            raise ValueError("free_busy needs aware datetimes")
        if time_max <= time_min:
            raise ValueError("free_busy needs time_max after time_min")
        if time_max - time_min > FREEBUSY_MAX_RANGE:
            raise ValueError(f"free_busy covers at most {FREEBUSY_MAX_RANGE.days} days in one query")
        if len(ids) > FREEBUSY_MAX_CALENDARS:
            raise ValueError(f"free_busy covers at most {FREEBUSY_MAX_CALENDARS} calendars in one query")
        if not ids:
            return FreeBusy(busy=())
        body = {
            "timeMin": _utc_rfc3339(time_min),
            "timeMax": _utc_rfc3339(time_max),
            "timeZone": "UTC",
            "items": [{"id": calendar_id} for calendar_id in ids],
        }
        answer = self.execute(self.service().freebusy().query(body=body), credentials)
        calendars = answer.get("calendars") or {}
        periods: list[tuple[datetime, datetime]] = []
        errors: dict[str, str] = {}
        for calendar_id in ids:
            result = calendars.get(calendar_id)
            if result is None:  # never read as free: Google said nothing about this calendar
                errors[calendar_id] = "missing"
                continue
            if result.get("errors"):
                errors[calendar_id] = str(result["errors"][0].get("reason") or "unknown")
                continue
            for period in result.get("busy") or []:
                periods.append((_parse_instant(period.get("start")), _parse_instant(period.get("end"))))
        return FreeBusy(busy=_merged(periods), errors=MappingProxyType(errors))


def _utc_rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_instant(text: Any) -> datetime:
    """An RFC 3339 timestamp with an offset (``Z`` or ±hh:mm, optional fraction) as aware UTC."""
    try:
        moment = datetime.fromisoformat(str(text).upper())
    except ValueError:
        moment = None
    if text is None or moment is None or moment.tzinfo is None:
        raise UpstreamError("Google answered a busy period without a valid time.")
    return moment.astimezone(UTC)


def _merged(periods: list[tuple[datetime, datetime]]) -> tuple[tuple[datetime, datetime], ...]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(periods):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


CONFERENCE_POLLS = 4


def meet_link_of(event: dict[str, Any]) -> str | None:
    """The real Meet link of an event, once Google has created the conference."""
    for entry in (event.get("conferenceData") or {}).get("entryPoints", []):
        if entry.get("entryPointType") == "video" and str(entry.get("uri", "")).startswith("https://meet.google.com/"):
            return str(entry["uri"])
    return None


def conference_status(event: dict[str, Any]) -> str | None:
    return ((event.get("conferenceData") or {}).get("createRequest") or {}).get("status", {}).get("statusCode")


class CalendarEvents:
    """Events of a host's calendar, written idempotently (client-chosen ids)."""

    def __init__(self, api: CalendarApi, settings: Settings, sleep: Any = None):
        import time

        self._api = api
        self._settings = settings
        self._sleep = sleep or time.sleep

    def insert(
        self, credentials: Any, calendar_id: str, event_id: str, body: dict[str, Any], *, conference: bool
    ) -> dict[str, Any]:
        """Insert with our id; if a previous attempt already created it (409), use that one."""
        request = (
            self._api.service()
            .events()
            .insert(
                calendarId=calendar_id,
                body={**body, "id": event_id},
                conferenceDataVersion=1 if conference else 0,
                sendUpdates="none",
            )
        )
        try:
            return self._api.execute(request, credentials)
        except UpstreamError as error:
            if error.details.get("google_status") != 409:
                raise
        return self.get(credentials, calendar_id, event_id)

    def get(self, credentials: Any, calendar_id: str, event_id: str) -> dict[str, Any]:
        return self._api.execute(self._api.service().events().get(calendarId=calendar_id, eventId=event_id), credentials)

    def patch(self, credentials: Any, calendar_id: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        request = (
            self._api.service()
            .events()
            .patch(calendarId=calendar_id, eventId=event_id, body=body, conferenceDataVersion=1, sendUpdates="none")
        )
        return self._api.execute(request, credentials)

    def cancel(self, credentials: Any, calendar_id: str, event_id: str) -> None:
        """Delete (Google keeps it as cancelled); already gone (404/410) counts as done."""
        request = self._api.service().events().delete(calendarId=calendar_id, eventId=event_id, sendUpdates="none")
        try:
            self._api.execute(request, credentials)
        except UpstreamError as error:
            if error.details.get("google_status") not in (404, 410):
                raise

    def wait_for_meet_link(self, credentials: Any, calendar_id: str, event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """Google creates Meet conferences asynchronously: re-read the event until the link exists.

        Gives up after a few short waits (the email worker resolves a still-pending link
        before sending); a failed creation is an error, never a made-up link.
        """
        for attempt in range(CONFERENCE_POLLS + 1):
            link = meet_link_of(event)
            if link:
                return event, link
            if conference_status(event) == "failure":
                raise UpstreamError("Google could not create the Meet conference.", code="meet_creation_failed")
            if attempt == CONFERENCE_POLLS:
                break
            self._sleep(0.5 * (2**attempt) * self._settings.google_backoff_scale)
            event = self.get(credentials, calendar_id, event["id"])
        return event, None


def build_service(name: str, version: str, settings: Settings, endpoint: str) -> Any:
    import httplib2
    from googleapiclient.discovery import build
    from googleapiclient.http import HttpRequest

    scale = settings.google_backoff_scale

    class ScaledBackoffRequest(HttpRequest):
        """googleapiclient's own retry loop, with its random backoff scaled (tests shrink it)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._rand = lambda: random.random() * scale

    options = {"api_endpoint": endpoint} if endpoint else None
    # The service is only a request factory: each call is executed with its own authorized http.
    return build(
        name,
        version,
        http=httplib2.Http(),
        static_discovery=True,
        client_options=options,
        requestBuilder=ScaledBackoffRequest,
        cache_discovery=False,
    )


def execute(request: Any, credentials: Any, settings: Settings) -> Any:
    import httplib2
    from google.auth.exceptions import RefreshError
    from google_auth_httplib2 import AuthorizedHttp
    from googleapiclient.errors import HttpError

    from shared.google.credentials import _is_invalid_grant

    http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=settings.google_timeout_seconds))
    try:
        return request.execute(http=http, num_retries=settings.google_retries)
    except RefreshError as exc:
        # A grant revoked while an access token is cached is found out here: the call answers
        # 401, google-auth refreshes, and the token endpoint says invalid_grant.
        if _is_invalid_grant(exc):
            raise GoogleAuthRequired("needs_reauth") from None
        raise Unavailable("Google could not refresh the connection; try again shortly.") from None
    except HttpError as exc:
        status = exc.resp.status
        if status == 429 or status >= 500 or (status == 403 and _rate_limited(exc)):
            raise Unavailable("Google is busy or unavailable; try again shortly.") from None
        raise UpstreamError("Google refused the request.", details={"google_status": status}) from None
    except (OSError, httplib2.HttpLib2Error):
        raise Unavailable("Google could not be reached; try again shortly.") from None


def _rate_limited(exc: Any) -> bool:
    return any(
        reason in (exc.content or b"").decode("utf-8", "replace") for reason in ("rateLimitExceeded", "userRateLimitExceeded")
    )
