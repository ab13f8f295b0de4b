import pytest

from shared.domain.connections import (
    CALENDAR_EVENTS,
    CALENDAR_FREEBUSY,
    CALENDAR_FULL,
    CALENDAR_LIST,
    EMAIL,
    OPENID,
    REQUIRED_SCOPES,
    missing_scopes,
    result_url_allowed,
)


def test_a_full_grant_misses_nothing():
    assert missing_scopes(REQUIRED_SCOPES) == []


def test_partial_grants_name_what_is_missing_in_order():
    assert missing_scopes([OPENID, EMAIL, CALENDAR_LIST]) == [CALENDAR_EVENTS, CALENDAR_FREEBUSY]
    assert missing_scopes([]) == list(REQUIRED_SCOPES)


def test_broader_scopes_cover_narrower_ones():
    assert missing_scopes([OPENID, "email", CALENDAR_FULL]) == []


@pytest.mark.parametrize(
    ("requested", "allowed", "expected"),
    [
        (None, ("https://app.example/settings",), "https://app.example/settings"),
        (None, (), None),
        ("https://app.example/settings", ("https://app.example/settings",), "https://app.example/settings"),
        ("https://app.example/settings/../admin", ("https://app.example/settings",), None),
        ("https://app.example/settings?x=1", ("https://app.example/settings",), None),
        ("https://app.example.evil.com/settings", ("https://app.example/settings",), None),
        ("//evil.example", ("https://app.example/settings",), None),
    ],
)
def test_result_urls_are_an_exact_allow_list(requested, allowed, expected):
    assert result_url_allowed(requested, allowed) == expected


def test_result_redirect_keeps_the_front_ends_query_and_fragment():
    from shared.services.connections import Outcome

    ok = Outcome(True, "connected", "", "https://app.example/settings?tab=calendar#integrations")
    assert ok.redirect_location() == "https://app.example/settings?tab=calendar&google_connection=connected#integrations"
    failed = Outcome(False, "access_denied", "", "https://app.example/settings")
    assert failed.redirect_location() == "https://app.example/settings?google_connection=failed&error=access_denied"
    assert Outcome(True, "connected", "", None).redirect_location() is None
