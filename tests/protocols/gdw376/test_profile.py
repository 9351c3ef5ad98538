"""Per-terminal 2009 / 2013 profile (protocols/gdw376/profile.py; docs/gdw376.md)."""

from __future__ import annotations

import pytest

from protocols.gdw376.profile import ADDED_2013, Edition, Profile


def test_defaults_and_configuration() -> None:
    assert Profile() == Profile(Edition.V2009, strict=False, detected=False)
    assert Profile.for_edition("2013", strict=True) == Profile(Edition.V2013, strict=True)
    assert Edition.V2013.standard == "Q/GDW 1376.1-2013"
    with pytest.raises(ValueError):
        Profile.for_edition("2011")


def test_heartbeat_clock_by_edition() -> None:
    assert not Profile().heartbeat_has_clock
    assert Profile(Edition.V2013).heartbeat_has_clock


@pytest.mark.parametrize(
    ("erc", "in_2009", "in_2013"),
    [(1, True, True), (35, True, True), (37, False, True), (41, False, True), (42, False, False), (0, False, False)],
)
def test_erc_by_edition(erc: int, in_2009: bool, in_2013: bool) -> None:
    assert Profile().has_erc(erc) is in_2009
    assert Profile(Edition.V2013).has_erc(erc) is in_2013


def test_fn_by_edition() -> None:
    assert not Profile().has_fn(0x04, 150)  # AFN04 F150 测量点状态: 2013 only
    assert Profile(Edition.V2013).has_fn(0x04, 150)
    assert Profile().has_fn(0x0C, 129)


def test_detection_upgrades_once_and_says_why() -> None:
    start = Profile()
    same, reason = start.observe_heartbeat(False)
    assert same is start and reason is None
    upgraded, reason = start.observe_heartbeat(True)
    assert upgraded == Profile(Edition.V2013, detected=True)
    assert reason == "edition 2013 detected: heartbeat carries a clock (AFN02 F3 with A.1)"
    # never downgraded, never re-announced
    assert upgraded.observe_heartbeat(False) == (upgraded, None)
    assert upgraded.observe_heartbeat(True) == (upgraded, None)


def test_detection_from_an_erc() -> None:
    assert Profile().observe_erc(14) == (Profile(), None)
    profile, reason = Profile(strict=True).observe_erc(40)
    assert profile == Profile(Edition.V2013, strict=True, detected=True)
    assert reason == "edition 2013 detected: event ERC40 exists only in 1376.1-2013"


def test_added_2013_covers_every_fn_the_registry_knows_only_in_2013() -> None:
    """An Fn with a codec that the 2009 edition reserves (备用) is one the 2013 edition added: a 2009 profile must
    not ask for it."""
    from protocols.gdw376.units.registry import RESERVED, only_in_edition

    only_2013 = {key for key in RESERVED if only_in_edition(*key) == "2013"}
    assert only_2013  # the registry does list some
    assert only_2013 <= ADDED_2013
