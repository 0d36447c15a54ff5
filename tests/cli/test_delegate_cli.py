"""``signoff delegate``: made, listed and revoked from the shell; every mistake is one clear
line that changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.cli import main
from bot.commands.delegate_cmds import until_of, zone_of
from store.delegations import DelegationStore
from store.errors import DelegationInvalid
from store.ledger import Ledger

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    return db_url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["delegate", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_delegate_list_and_revoke(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "U0LEAD", "--to", "u0dep", "--until", "3d", "--reason", "holiday",
                       "--by", "U0ADMIN")
    assert code == 0 and "U0DEP decides for U0LEAD until" in out
    code, out, _ = run(capsys, "list")
    assert code == 0 and "U0LEAD → U0DEP" in out and "active" in out and "holiday" in out
    delegation_id = out.split()[0]
    code, out, _ = run(capsys, "revoke", delegation_id, "--by", "U0ADMIN")
    assert code == 0 and "revoked" in out
    code, out, _ = run(capsys, "list")
    assert "no delegations in force" in out
    code, out, _ = run(capsys, "list", "--all", "--user", "U0DEP")
    assert "revoked" in out
    ledger = Ledger.open(env)
    try:
        [made] = DelegationStore(ledger).listing(at=datetime.now(UTC), ended=True)
        assert made.created_by == "U0ADMIN" and made.revoked_by == "U0ADMIN"
    finally:
        ledger.close()


@pytest.mark.parametrize(("args", "message"), [
    (("U0LEAD", "--to", "U0LEAD", "--until", "1d"), "cannot delegate to themselves"),
    (("U0LEAD", "--to", "U0DEP", "--until", "2020-01-01"), "is not in the future"),
    (("U0LEAD", "--to", "U0DEP", "--until", "soon"), "neither a time nor a duration"),
    (("U0LEAD", "--to", "U0DEP"), "needs --to U2 and --until TIME"),
    (("alice", "--to", "U0DEP", "--until", "1d"), "not a Slack member id"),
    (("revoke", "abc"), "revoke needs one delegation id"),
    (("revoke", "99"), "no delegation 99"),
    (("U0LEAD", "extra", "--to", "U0DEP", "--until", "1d"), "unexpected 'extra'"),
])
def test_mistakes_are_one_line_and_store_nothing(
        env: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
        message: str) -> None:
    code, out, err = run(capsys, *args)
    assert code == 1 and out == ""
    assert err.startswith("signoff: error: ") and message in err and err.count("\n") == 1
    ledger = Ledger.open(env)
    try:
        assert DelegationStore(ledger).listing(at=datetime.now(UTC), ended=True) == []
    finally:
        ledger.close()


@pytest.mark.parametrize(("text", "expected"), [
    ("3d", NOW + timedelta(days=3)),
    ("12h", NOW + timedelta(hours=12)),
    ("2026-12-24T18:00Z", datetime(2026, 12, 24, 18, 0, tzinfo=UTC)),
    ("2026-12-24T19:00+01:00", datetime(2026, 12, 24, 18, 0, tzinfo=UTC)),
    ("2026-12-24T18:00", datetime(2026, 12, 24, 18, 0, tzinfo=UTC)),
    ("2026-12-24", datetime(2026, 12, 24, tzinfo=UTC)),
])
def test_until_reads_times_dates_and_durations(text: str, expected: datetime) -> None:
    assert until_of(text, NOW) == expected


def test_until_reads_a_bare_date_or_time_in_the_zone_given() -> None:
    paris = zone_of("Europe/Paris")
    assert until_of("2026-12-24", NOW, paris) == datetime(2026, 12, 23, 23, 0, tzinfo=UTC)
    assert until_of("2026-07-01T18:00", NOW, paris) == datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    assert until_of("2026-12-24T18:00Z", NOW, paris) == datetime(2026, 12, 24, 18, 0,
                                                                  tzinfo=UTC)  # its own zone
    assert until_of("3d", NOW, paris) == NOW + timedelta(days=3)
    with pytest.raises(DelegationInvalid, match="IANA name"):
        zone_of("Mars/Olympus")


def test_until_refuses_what_it_cannot_read() -> None:
    with pytest.raises(DelegationInvalid, match="ISO time"):
        until_of("next week", NOW)
