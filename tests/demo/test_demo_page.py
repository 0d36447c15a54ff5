"""Click through the demo in a real browser: every click goes from the page to the local
Slack server's control endpoints, which sign it and deliver it to the real bot."""

from __future__ import annotations

import re
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.demo.config import (
    AGENT_LOG,
    APPROVALS,
    ON_CALL,
    PAYMENTS,
    POLICY,
    REQUESTER,
    REVIEWER,
    SECOND_REVIEWER,
    SECURITY,
)
from bot.demo.runner import Demo
from tests.demo.conftest import Shot

expect = pytest.importorskip("playwright.sync_api",
                             reason="browser tests need playwright (pip install -e .[dev])").expect

SMALL_REFUND = "Refund EUR 120 to cus_ada"


def open_as(page: Any, demo: Demo, user: str, where: str) -> None:
    page.goto(f"{demo.url}#as={user}&in={where}")
    expect(page.locator("#live")).to_have_text("● live")


def card(page: Any, text: str) -> Any:
    """The card (a channel message) whose text holds ``text``, found by its stable ts."""
    found = page.locator("#main li.message", has_text=text).first
    expect(found).to_be_visible()
    return page.locator(f'#main li.message[data-ts="{found.get_attribute("data-ts")}"]')


def test_approve_a_refund_and_see_the_card_update(page: Any, demo: Demo, shot: Shot) -> None:
    open_as(page, demo, REVIEWER.id, PAYMENTS)
    refund = card(page, SMALL_REFUND)
    shot("card-waiting")
    refund.get_by_role("button", name="Approve", exact=True).click()
    expect(refund.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    expect(refund).to_contain_text("Executed")
    refund.get_by_role("button", name=re.compile(r"^\d+ repl")).click()
    thread = page.get_by_role("complementary", name="Thread")
    expect(thread).to_contain_text("'refund_id': 're_demo_ada'")
    shot("card-executed-with-thread")


def test_edit_shows_a_field_error_then_the_edited_value(page: Any, demo: Demo,
                                                       shot: Shot) -> None:
    open_as(page, demo, REVIEWER.id, PAYMENTS)
    refund = card(page, SMALL_REFUND)
    refund.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit and approve")
    amount = dialog.get_by_label("amount")
    amount.fill("0")
    dialog.get_by_role("button", name="Approve edits").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Must be at least 1")
    expect(amount).to_have_attribute("aria-invalid", "true")
    shot("field-error")
    amount.fill("80")
    dialog.get_by_role("button", name="Approve edits").click()
    expect(dialog).to_have_count(0)
    expect(refund).to_contain_text("80")
    expect(refund.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    shot("edited-card")


def test_the_requester_cannot_approve_their_own_request(page: Any, demo: Demo,
                                                        shot: Shot) -> None:
    open_as(page, demo, REQUESTER.id, PAYMENTS)
    button = card(page, SMALL_REFUND).get_by_role("button", name="Approve", exact=True)
    button.focus()
    page.keyboard.press("Enter")  # buttons work from the keyboard
    refusal = page.locator("#main li.message.ephemeral")
    expect(refusal).to_contain_text("made on your behalf")
    expect(refusal).to_contain_text("Only visible to you")
    shot("refusal")
    page.get_by_label("Viewing as").select_option(REVIEWER.id)
    expect(page.locator("#main li.message.ephemeral")).to_have_count(0)  # only Rita sees it
    approve = card(page, SMALL_REFUND).get_by_role("button", name="Approve", exact=True)
    expect(approve).to_be_visible()


def test_the_on_call_engineer_gets_an_escalation_dm(page: Any, demo: Demo, shot: Shot) -> None:
    open_as(page, demo, ON_CALL.id, "home")
    dm = page.get_by_role("button", name="signoff (app)")
    expect(dm).to_be_visible(timeout=15_000)
    dm.click()
    expect(page.locator("#main li.message").first).to_contain_text("You are on call",
                                                                   timeout=10_000)
    shot("escalation-dm")


def test_an_email_draft_is_edited_in_a_multiline_modal(page: Any, demo: Demo, shot: Shot) -> None:
    open_as(page, demo, REVIEWER.id, APPROVALS)
    draft = card(page, "Email ada@example.com")
    draft.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit and approve")
    body = dialog.get_by_label("body")
    expect(body).to_have_js_property("tagName", "TEXTAREA")
    body.fill("Hi Ada,\n\nYour EUR 120 refund is on its way.\n\nBest,\nSupport")
    dialog.get_by_label("send_at").fill("2030-01-02T09:30")
    shot("email-draft-edited")
    dialog.get_by_role("button", name="Approve edits").click()
    expect(dialog).to_have_count(0)
    expect(draft).to_contain_text("Your EUR 120 refund is on its way.")
    expect(draft).to_contain_text("2030-01-02")
    shot("email-card-after-edit")


def test_mrkdwn_is_rendered_and_escaped(page: Any, demo: Demo) -> None:
    open_as(page, demo, REVIEWER.id, "home")
    html = page.evaluate("""async () => {
        const m = await import('/demo/mrkdwn.js');
        const ctx = {userName: (id) => id === 'U0RITA' ? 'Rita Gomez' : null, me: 'U0ALICE'};
        return m.mrkdwn(
          "*bold* _it_ ~gone~ `a<b>` and <https://x.example/?a=1&amp;b=2|a link>\\n" +
          "&gt; quoted\\n<@U0RITA> <!date^0^{date_num}|1970> <javascript:alert(1)|bad> " +
          "<img src=x onerror=alert(1)>", ctx);
    }""")
    for part in ("<strong>bold</strong>", "<em>it</em>", "<del>gone</del>",
                 "<code>a&lt;b&gt;</code>", '<a href="https://x.example/?a=1&amp;b=2"',
                 "<blockquote>quoted</blockquote>", "@Rita Gomez",
                 '<time datetime="1970-01-01T00:00:00.000Z"'):
        assert part in html
    assert "javascript:" not in html and "<img" not in html


def test_app_home_lists_the_queue_and_links_to_cards(page: Any, demo: Demo, shot: Shot) -> None:
    open_as(page, demo, SECOND_REVIEWER.id, "home")
    home = page.get_by_label("App Home")
    expect(home).to_contain_text("Your review queue")
    expect(home).to_contain_text("Refund EUR 2,400 to cus_bram")
    shot("app-home")
    # The innermost block holding both this ticket's title and a card link is its own entry
    # (outer containers hold every ticket, so their first link may be another ticket's).
    card_link = page.get_by_role("link", name="Open the card")
    entry = home.locator("section, div").filter(has_text="Refund EUR 2,400").filter(
        has=card_link).last
    entry.get_by_role("link", name="Open the card").click()
    expect(page.locator("#pane-title")).to_have_text("#payments")
    page.get_by_role("button", name="Edit").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")  # closes the modal, as in Slack
    expect(dialog).to_have_count(0)


def test_confirm_dialogs_and_selects_deliver_signed_actions(page: Any, demo: Demo,
                                                           shot: Shot) -> None:
    sb = demo.sandbox
    assert sb is not None
    client = WebClient(base_url=sb.api_url, token=sb.bot_token)
    confirm = {"title": {"type": "plain_text", "text": "Pause the agent?"},
               "text": {"type": "mrkdwn", "text": "It stops proposing *new* actions."},
               "confirm": {"type": "plain_text", "text": "Pause"},
               "deny": {"type": "plain_text", "text": "Keep running"}, "style": "danger"}
    client.chat_postMessage(channel=AGENT_LOG, text="Agent controls", blocks=[
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Agent controls*"},
         "accessory": {"type": "static_select", "action_id": "demo_speed",
                       "placeholder": {"type": "plain_text", "text": "Speed"},
                       "options": [{"text": {"type": "plain_text", "text": t}, "value": t}
                                   for t in ("slow", "fast")]}},
        {"type": "divider"},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "demo_pause", "style": "danger", "confirm": confirm,
             "text": {"type": "plain_text", "text": "Pause agent"}}]},
    ])
    open_as(page, demo, REVIEWER.id, AGENT_LOG)
    controls = card(page, "Agent controls")
    controls.get_by_role("button", name="Pause agent").click()
    dialog = page.get_by_role("alertdialog", name="Pause the agent?")
    expect(dialog).to_contain_text("It stops proposing new actions.")
    shot("confirm-dialog")
    dialog.get_by_role("button", name="Keep running").click()
    expect(dialog).to_have_count(0)
    assert not [d for d in sb.interactions("block_actions") if "demo_pause" in str(d.payload)]
    controls.get_by_role("button", name="Pause agent").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Pause").click()
    # Each delivery is recorded when the app has answered it; let the first one finish so
    # the two are recorded in the order they were made, however busy the machine is.
    sb.wait_until(lambda: sb.interactions("block_actions"))
    controls.get_by_role("combobox").select_option("fast")
    actions = sb.wait_until(lambda: len(sb.interactions("block_actions")) >= 2 and
                            sb.interactions("block_actions"))
    chosen = [a["action_id"] for d in actions for a in (d.payload or {}).get("actions", [])]
    assert chosen == ["demo_pause", "demo_speed"]
    assert actions[-1].payload is not None
    assert actions[-1].payload["actions"][0]["selected_option"]["value"] == "fast"


def test_toasts_show_formatted_text_and_belong_to_the_viewer(page: Any, demo: Demo) -> None:
    assert demo.sandbox is not None
    open_as(page, demo, REVIEWER.id, PAYMENTS)
    card(page, SMALL_REFUND)
    slack = WebClient(base_url=demo.sandbox.api_url, token=demo.sandbox.bot_token)
    slack.chat_postEphemeral(channel=PAYMENTS, user=REVIEWER.id,
                             text="Decided <!date^1700000000^{date_short}|Nov 14, 2023> by *Bob*")
    toast = page.locator("#toasts .toast", has_text="Only visible to you")
    expect(toast).to_be_visible()
    expect(toast).not_to_contain_text("<!date")
    expect(toast).to_contain_text("Nov 14, 2023")
    expect(toast.locator("strong")).to_have_text("Bob")
    page.get_by_label("Viewing as").select_option(REQUESTER.id)
    expect(page.locator("#toasts .toast")).to_have_count(0)  # not shown to someone else


EMOJI_FONT_MISSING = "no emoji font installed (Debian: apt-get install fonts-noto-color-emoji)"


def test_ci_installs_an_emoji_font() -> None:
    from pathlib import Path

    ci = (Path(__file__).parents[2] / ".ci" / "run").read_text()
    assert "fonts-noto-color-emoji" in ci


def test_emoji_render_in_colour_not_as_empty_boxes(page: Any, demo: Demo) -> None:
    import shutil
    import subprocess

    fonts = subprocess.run(["fc-list"], capture_output=True, text=True).stdout \
        if shutil.which("fc-list") else ""
    if "emoji" not in fonts.lower():
        pytest.skip(EMOJI_FONT_MISSING)
    open_as(page, demo, REVIEWER.id, PAYMENTS)
    # Draw an emoji the cards use and count coloured pixels: a missing glyph is a grey box.
    coloured = page.evaluate("""() => {
        const c = document.createElement("canvas"); c.width = 64; c.height = 64;
        const g = c.getContext("2d"); g.font = "48px sans-serif"; g.textBaseline = "top";
        g.fillStyle = "#000"; g.fillText("🔴", 4, 4);
        const d = g.getImageData(0, 0, 64, 64).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 150 && d[i + 1] < 100 && d[i + 3] > 0) n++;
        return n; }""")
    assert coloured > 200, "the emoji drew no red pixels: the browser has no emoji font"


def test_policy_suggestion_shows_its_evidence_and_diff(page: Any, demo: Demo,
                                                       shot: Shot) -> None:
    open_as(page, demo, REVIEWER.id, POLICY)
    post = card(page, "Policy suggestion")
    expect(post).to_contain_text("resend_invoice with amount ≤ 48: 24 approved, 0 edited, "
                                 "0 rejected in 30 days")
    expect(post).to_contain_text("+      when: {amount: {lte: 48}}")
    expect(post).to_contain_text("+      decide: allow")
    expect(post).to_contain_text("Nothing was changed")
    shot("policy-suggestion")


def test_break_glass_runs_the_big_refund_and_a_second_person_witnesses_it(
        page: Any, demo: Demo, shot: Shot) -> None:
    open_as(page, demo, REVIEWER.id, PAYMENTS)
    big = card(page, "Refund EUR 2,400 to cus_bram")
    big.get_by_role("button", name="Break glass…").click()
    dialog = page.get_by_role("dialog", name="Break glass")
    dialog.get_by_label("Why can this not wait for an approval?").fill("   ")
    dialog.get_by_role("button", name="Break glass").click()
    expect(dialog.get_by_role("alert")).to_contain_text("A justification is required")
    shot("break-glass-needs-a-justification")
    dialog.get_by_label("Why can this not wait for an approval?").fill(
        "Bram was charged twice and the bank closes in ten minutes; Bob is offline.")
    dialog.get_by_role("button", name="Break glass").click()
    expect(dialog).to_have_count(0)
    expect(big).to_contain_text("break-glass")
    expect(big).to_contain_text("Executed")
    shot("break-glass-card")
    page.get_by_label("Viewing as").select_option(SECOND_REVIEWER.id)
    big.get_by_role("button", name="Witness break-glass").click()
    expect(big.get_by_role("button", name="Witness break-glass")).to_have_count(0)
    shot("break-glass-witnessed")
    sb = demo.sandbox
    assert sb is not None
    post = sb.wait_until(lambda: [m for m in sb.messages(SECURITY) if "Witnessed by" in
                                  str(m.blocks)])[0]
    assert "Bram was charged twice" in str(post.blocks) and "BREAK-GLASS" in post.text


def test_approve_the_two_step_plan_and_watch_its_steps_run(page: Any, demo: Demo,
                                                           shot: Shot) -> None:
    open_as(page, demo, REVIEWER.id, PAYMENTS)
    plan = card(page, "pause_subscription")
    expect(plan.get_by_role("button", name="Edit step")).to_have_count(2)
    shot("plan-waiting")
    plan.get_by_role("button", name="Approve plan").click()
    expect(plan).to_contain_text("Plan complete", timeout=10_000)
    expect(plan).to_contain_text("2 done")
    expect(plan.get_by_role("button", name="Stop plan")).to_have_count(0)
    shot("plan-done")
