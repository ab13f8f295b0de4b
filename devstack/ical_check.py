"""Check an iCalendar text with libical, the parser of GNOME Evolution, as a second opinion.

The project builds invitations with the `icalendar` package; checking them with the same
package would only agree with itself. libical is reached through GObject introspection,
from Debian's packages (`python3-gi`, `gir1.2-ical-3.0`) and Debian's own interpreter,
which the project's virtualenv cannot import: `check_ical` runs this very file under
`/usr/bin/python3` and reads a JSON report from it. Only the standard library is imported
at module level, so the file runs as that child too.

libical reports problems as X-LIC-ERROR properties: the parser adds one for each value it
cannot read (and drops the property), `restriction_check` one for each RFC 5546 (iTIP)
rule the calendar's METHOD breaks. Without a METHOD (or with one libical does not know)
the restriction check has nothing to apply and passes.

The report also says which instants libical reads each VEVENT's DTSTART and DTEND as
(resolving a TZID through the calendar's VTIMEZONE, as Evolution does), so a test can
compare them with what the `icalendar` package reads. `check_icals` checks many texts in
one child process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEBIAN_PYTHON = Path("/usr/bin/python3")
APT_PACKAGES = ("python3-gi", "gir1.2-ical-3.0")
_UNAVAILABLE_EXIT = 3  # the child's exit status when gi or the ICalGLib typelib is missing


class IcalCheckUnavailable(RuntimeError):
    """libical cannot be reached: Debian's python3 or its packages are not installed."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{detail}; install them with: apt-get install -y {' '.join(APT_PACKAGES)}")


@dataclass(frozen=True)
class IcalEvent:
    """One VEVENT as libical reads it: `start`/`end` are aware UTC instants (`end` from
    DTSTART + DURATION when there is no DTEND), None when missing or floating (a DATE, or a
    DATE-TIME with neither TZID nor Z)."""

    uid: str | None
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class IcalReport:
    """What libical says of one VCALENDAR.

    `errors`: every X-LIC-ERROR text, parse errors first, then the iTIP restriction failures
    (each once, in libical's order); `restriction_ok`: whether `restriction_check` passed;
    `method`: the METHOD value; `components`: kinds below the VCALENDAR, depth first;
    `events`: the VEVENTs' UIDs and instants, in order.
    """

    errors: list[str]
    restriction_ok: bool
    method: str | None
    components: list[str]
    events: tuple[IcalEvent, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and self.restriction_ok


def check_ical(text: str, timeout: float = 30.0) -> IcalReport:
    """Validate a whole VCALENDAR with libical (in a Debian python3 child process)."""
    return _from_json(json.loads(_run_child([], text.encode(), timeout)))


def check_icals(texts: list[str], timeout: float = 60.0) -> list[IcalReport]:
    """`check_ical` of each text, in order, from one child process (for many small calendars)."""
    reports = json.loads(_run_child(["--many"], json.dumps(texts).encode(), timeout))
    return [_from_json(report) for report in reports]


def _run_child(args: list[str], stdin: bytes, timeout: float) -> bytes:
    if not DEBIAN_PYTHON.exists():
        raise IcalCheckUnavailable(f"{DEBIAN_PYTHON} is missing")
    child = subprocess.run(
        [str(DEBIAN_PYTHON), "-I", str(Path(__file__).resolve()), *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    stderr = child.stderr.decode(errors="replace").strip()
    if child.returncode == _UNAVAILABLE_EXIT:
        raise IcalCheckUnavailable(stderr)
    if child.returncode != 0:
        raise RuntimeError(f"libical check failed (exit {child.returncode}): {stderr}")
    return child.stdout


def _from_json(report: dict[str, Any]) -> IcalReport:
    def instant(seconds: int | None) -> datetime | None:
        return None if seconds is None else datetime.fromtimestamp(seconds, UTC)

    events = tuple(IcalEvent(e["uid"], instant(e["start"]), instant(e["end"])) for e in report.pop("events", []))
    return IcalReport(**report, events=events)


# -- the child, run by Debian's python3 -------------------------------------------------


def _report(ical: Any, text: str) -> dict[str, Any]:
    """The JSON report for `text`, from the ICalGLib module `ical`."""
    try:
        calendar = ical.Component.new_from_string(text)
    except TypeError:  # the constructor returned NULL: no complete component at all
        calendar = None
    if calendar is None:
        return {"errors": ["libical found no complete component"], "restriction_ok": False, "method": None, "components": []}
    kind = ical.Component.kind_to_string(calendar.isa())
    if kind != "VCALENDAR":
        return {"errors": [f"expected a VCALENDAR, got {kind}"], "restriction_ok": False, "method": None, "components": []}

    def walk(component: Any) -> tuple[list[str], list[str]]:
        """(X-LIC-ERROR texts, kinds of the components below) of `component`, depth first."""
        errors, kinds = [], []
        prop = component.get_first_property(ical.PropertyKind.XLICERROR_PROPERTY)
        while prop is not None:
            errors.append(prop.get_xlicerror())
            prop = component.get_next_property(ical.PropertyKind.XLICERROR_PROPERTY)
        child = component.get_first_component(ical.ComponentKind.ANY_COMPONENT)
        while child is not None:
            child_errors, child_kinds = walk(child)
            errors += child_errors
            kinds += [ical.Component.kind_to_string(child.isa()), *child_kinds]
            child = component.get_next_component(ical.ComponentKind.ANY_COMPONENT)
        return errors, kinds

    def seconds(time: Any) -> int | None:
        """The instant of a DATE-TIME in seconds since the epoch, if it has a zone (TZID or Z)."""
        if time is None or time.is_null_time() or time.is_date() or time.get_timezone() is None:
            return None
        return time.as_timet_with_zone(time.get_timezone())

    events = []
    event = calendar.get_first_component(ical.ComponentKind.VEVENT_COMPONENT)
    while event is not None:
        # get_dtend is DTSTART + DURATION when there is no DTEND, as clients show it.
        events.append({"uid": event.get_uid(), "start": seconds(event.get_dtstart()), "end": seconds(event.get_dtend())})
        event = calendar.get_next_component(ical.ComponentKind.VEVENT_COMPONENT)

    parse_errors, components = walk(calendar)
    restriction_ok = bool(ical.restriction_check(calendar))
    all_errors, _ = walk(calendar)  # restriction_check adds its X-LIC-ERRORs (some many times over)
    restriction_errors = [e for e in dict.fromkeys(all_errors) if e not in parse_errors]
    method = calendar.get_first_property(ical.PropertyKind.METHOD_PROPERTY)
    return {
        "errors": list(dict.fromkeys(parse_errors)) + restriction_errors,
        "restriction_ok": restriction_ok,
        "method": None if method is None else method.get_value_as_string(),
        "components": components,
        "events": events,
    }


def _child() -> int:
    try:
        import gi

        gi.require_version("ICalGLib", "3.0")
        from gi.repository import ICalGLib
    except (ImportError, ValueError) as exc:
        print(f"libical is not available to {sys.executable} ({exc})", file=sys.stderr)
        return _UNAVAILABLE_EXIT
    text = sys.stdin.buffer.read().decode("utf-8")
    if sys.argv[1:] == ["--many"]:
        json.dump([_report(ICalGLib, one) for one in json.loads(text)], sys.stdout)
    else:
        json.dump(_report(ICalGLib, text), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(_child())
