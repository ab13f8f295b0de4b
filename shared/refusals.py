"""What a port refuses, in its own terms (never a client library's).

Kept apart from ``shared.ports`` (its Protocols and the domain values they name) so that an
adapter raising these, or a service catching them, loads nothing else on a cold start;
``shared.ports`` re-exports them.
"""


class AlreadyExists(Exception):
    """A create found its id taken: nothing was written."""


class DoesNotExist(Exception):
    """A change to a record that is not stored: nothing was written."""
