"""App Home: built only when the Home tab is opened, with card links known from post time."""

from __future__ import annotations

from bot.sandbox.api_chat import permalink
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import refund


def test_the_messages_tab_publishes_nothing(rig: Rig) -> None:
    refund(rig)
    assert rig.sandbox.open_app_home("U0PAYLEAD", tab="messages").ok
    assert rig.sandbox.open_app_home("U0PAYLEAD", tab="home").ok
    rig.sandbox.wait_until(lambda: rig.sandbox.home("U0PAYLEAD"))
    assert rig.sandbox.open_app_home("U0PAYLEAD", tab="messages").ok
    rig.sandbox.open_app_home("U0FINOPS", tab="home")  # a later event, to wait on
    rig.sandbox.wait_until(lambda: rig.sandbox.home("U0FINOPS"))
    published = [c.args["user_id"] for c in rig.sandbox.calls("views.publish")]
    assert published == ["U0PAYLEAD", "U0FINOPS"]


def test_thirty_tickets_cost_one_publish_and_no_permalink_calls(rig: Rig) -> None:
    tickets = [refund(rig, 100 + i) for i in range(30)]
    before = len(rig.sandbox.calls())
    assert rig.sandbox.open_app_home("U0PAYLEAD").ok
    home = rig.sandbox.wait_until(lambda: rig.sandbox.home("U0PAYLEAD"))
    methods = [c.method for c in rig.sandbox.calls()[before:]]
    assert methods.count("views.publish") == 1 and "chat.getPermalink" not in methods
    # auth.test: Bolt's own authorisation and the workspace URL, each once per process
    assert methods.count("auth.test") <= 2
    shown = str(home.data["blocks"])
    for ticket in tickets[:5]:
        card = rig.sandbox.message("C0PAYMENTS", rig.card_ts(ticket.id))
        assert card is not None
        with rig.sandbox.state.lock:
            assert permalink(rig.sandbox.ctx, card) in shown  # what Slack would link to
    again = len(rig.sandbox.calls())
    rig.sandbox.open_app_home("U0PAYLEAD")
    rig.sandbox.wait_until(lambda: len(rig.sandbox.calls("views.publish")) == 2)
    assert [c.method for c in rig.sandbox.calls()[again:]] == ["views.publish"]
