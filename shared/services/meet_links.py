"""The Meet link of an event whose conference was still pending when it was created.

Apart from the interview service so that the email worker, which needs only this, is
built (and deployed, and granted) without the booking, queueing and publishing parts.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.auth.principal import host_principal
from shared.domain.models import Interview
from shared.errors import ConveneError
from shared.ports import CalendarEventReader, Clock, InterviewRepository, UsableConnections


class MeetLinks:
    def __init__(
        self,
        *,
        clock: Clock,
        interviews: InterviewRepository,
        connections: Callable[[], UsableConnections],
        calendar_events: Callable[[], CalendarEventReader],
    ):
        # connections and calendar_events are factories: an email whose link is known builds neither.
        self._clock = clock
        self._interviews = interviews
        self._connections = connections
        self._calendar_events = calendar_events

    def resolve(self, interview: Interview) -> str | None:
        """Reads the event again; stores and returns its link once Google has made it."""
        from shared.domain.connections import GoogleAuthRequired
        from shared.google.calendar import meet_link_of

        if not interview.calendar_event_id:
            return None
        connections = self._connections()
        try:
            credentials = connections.credentials_for(connections.usable_connection(host_principal(interview)))
        except (ConveneError, GoogleAuthRequired):
            return None
        link = meet_link_of(self._calendar_events().get(credentials, "primary", interview.calendar_event_id))
        if link:
            self._interviews.update(interview.id, {"meet_link": link, "updated_at": self._clock.now()})
        return link
