import itertools

import pytest

from shared.domain.errors import TransitionNotAllowed
from shared.domain.models import InterviewStatus as S
from shared.domain.status import TERMINAL, can_transition, transition

EXPECTED = {
    (S.PENDING, S.CONFIRMED),
    (S.PENDING, S.CANCELLED),
    (S.CONFIRMED, S.COMPLETED),
    (S.CONFIRMED, S.NO_SHOW),
    (S.CONFIRMED, S.CANCELLED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_pair_of_statuses(current, target):
    allowed = (current, target) in EXPECTED
    assert can_transition(current, target) is allowed
    if allowed:
        assert transition(current, target) is target
    else:
        with pytest.raises(TransitionNotAllowed) as excinfo:
            transition(current, target)
        assert excinfo.value.code == "invalid_transition"
        assert excinfo.value.details["from"] == current.value


def test_terminal_statuses():
    assert TERMINAL == {S.COMPLETED, S.NO_SHOW, S.CANCELLED}
