"""Availability, booking links and guest self-service (SPEC §2.6), for the ``scheduling`` function.

- ``configs``: a host's scheduling configurations (CRUD, calendars checked against Google's list);
- ``availability``: free slots from ONE free/busy query and ONE interviews query;
- ``links``: booking links (host side: create, list, revoke; guest side: view, book);
- ``guest``: the guest's manage link (view, cancel, reschedule) and the host's confirm / decline links;
- ``requests``: wire parsing of their queries and bodies.
Bookings, changes and emails go through shared.services.interviews, exactly as a host's own.
"""
