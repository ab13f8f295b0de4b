"""The interview status machine (SPEC §2.2).

pending → confirmed → completed | no_show; pending | confirmed → cancelled.
"""

from __future__ import annotations

from shared.domain.errors import TransitionNotAllowed
from shared.domain.models import InterviewStatus as S

ALLOWED: dict[S, frozenset[S]] = {
    S.PENDING: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.COMPLETED, S.NO_SHOW, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.NO_SHOW: frozenset(),
    S.CANCELLED: frozenset(),
}

TERMINAL = frozenset(s for s, targets in ALLOWED.items() if not targets)


def can_transition(current: S, target: S) -> bool:
    return target in ALLOWED[current]


def transition(current: S, target: S) -> S:
    """Return ``target`` if the machine allows it, else refuse it (a 422) saying why."""
    if not can_transition(current, target):
        allowed = sorted(s.value for s in ALLOWED[current])
        raise TransitionNotAllowed(
            f"An interview that is {current.value} cannot become {target.value}.",
            code="invalid_transition",
            details={"from": current.value, "to": target.value, "allowed": allowed},
        )
    return target
