"""Decision clicks through the inbox: written before the ack, decided after it, replayed.

Every acknowledged decision click ends in a recorded decision or in a message to the clicker
saying it did not count, and why (see :mod:`store.inbox`):

1. :meth:`ClickInbox.receive` writes the click (bounded to about a second; clicks arriving
   together share a transaction, :mod:`bot.slack.click_writer`) before the handler acks.
   If the write fails the clicker is told at once (a button click) or the modal shows the
   error (a submission), and no success is acknowledged;
2. :meth:`ClickInbox.process_later` decides it on the decision pool after the ack; the
   click ends in the decision's own transaction, or as ``told`` after the message went out;
3. a click whose processing failed (the database went away, Slack did not take the message)
   is tried again; one whose replica died is replayed by :meth:`ClickInbox.replay` (at
   ``serve`` start and on every sweep) once its lease runs out.

While the database is unreachable a click is retried until ``max_age`` after its receipt has
passed; then the clicker is told it did not count. The ledger refuses to decide a click older
than ``max_age`` by the database's clock, so that message stays true whatever happens later.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.render.clicks import render_click_too_old, render_click_unrecorded
from bot.slack.click_writer import ClickWriter
from bot.slack.reviews import NotTold, Reviews
from store.errors import StoreError, StoreUnavailable
from store.inbox import CLICK_LEASE, Click, NewClick

log = logging.getLogger(__name__)

#: Leave this much for clock skew between a replica and the database before telling a
#: clicker that a click the database may still hold did not count.
SKEW_MARGIN = timedelta(seconds=5)
#: Wait this long between attempts at a click whose processing failed.
RETRY_EVERY = 1.0
#: A click not written by then is not acknowledged (the write itself gives up sooner).
RECEIVE_TIMEOUT = 2.5
#: Concurrent inbox writers on PostgreSQL (their commits overlap; SQLite has one writer).
PG_WRITERS = 4


@dataclass
class ClickInbox:
    reviews: Reviews
    pool: Executor
    owner: str
    lease: timedelta = CLICK_LEASE
    hold: float = 0.0
    """Test-only: seconds each click waits after its ack before it is processed (0: none).
    Makes "killed right after the ack" deterministic in the crash tests."""
    retry_every: float = RETRY_EVERY
    skew_margin: timedelta = SKEW_MARGIN
    _timers: set[threading.Timer] = field(default_factory=set)
    _writer: ClickWriter | None = None

    def __post_init__(self) -> None:
        ledger = self.reviews.ledger
        self._writer = ClickWriter(
            lambda new: ledger.receive_clicks(new, owner=self.owner),
            writers=1 if ledger.dialect == "sqlite" else PG_WRITERS)

    @property
    def max_age(self) -> timedelta:
        return self.reviews.click_max_age

    # -- before the ack ---------------------------------------------------------------------

    def receive(self, new: NewClick, *, tell: bool = True) -> Click | None:
        """Write the click. None when it could not be written: then the clicker has been
        told (``tell``), or the caller shows the error itself. Raises when the clicker could
        not be told either, so the handler does not acknowledge the click."""
        assert self._writer is not None
        try:
            return self._writer.write(new, timeout=RECEIVE_TIMEOUT)
        except TimeoutError as exc:
            # The write may still commit (then a replay decides it): claim nothing; without
            # an ack, Slack shows the clicker that the click failed.
            raise NotTold(f"the click by {new.user} took too long to record") from exc
        except StoreError as exc:
            log.error("click by %s on %s not recorded: %s", new.user, new.ticket_id, exc)
            if tell and not self.reviews.surfaces.tell_clicker(
                    new.user, new.channel, new.response_url, render_click_unrecorded(new.kind)):
                raise NotTold(f"could not record or answer a click by {new.user}") from exc
            return None

    # -- after the ack ----------------------------------------------------------------------

    def process_later(self, click: Click) -> None:
        self.pool.submit(self._attempt, click.id, click, time.monotonic(), self.hold, True)

    def _attempt(self, click_id: int, click: Click, received: float, hold: float,
                 fresh: bool = False) -> None:
        if hold > 0:
            time.sleep(hold)
        try:
            # Its receipt leased it to this replica: while well within that lease nobody
            # else takes it, so skip a transaction. Later (a retry, a long queue) take it.
            held = fresh and time.monotonic() - received < self.lease.total_seconds() / 2
            taken = click if held else self.reviews.ledger.take_click(
                click_id, owner=self.owner, lease=self.lease)
            if taken is not None:
                self.reviews.decide_click(taken)
        except StoreUnavailable as exc:
            self._failed(click, received, exc)
        except NotTold as exc:
            log.warning("%s; it will be tried again", exc)
            self._again(click, received)
        except Exception:
            log.exception("click %s failed after its ack; it will be replayed", click_id)

    def _failed(self, click: Click, received: float, exc: StoreError) -> None:
        """The database failed under a click: try again until it is too old to count, then
        tell the clicker it did not."""
        give_up = (self.max_age + self.skew_margin).total_seconds()
        if time.monotonic() - received < give_up:
            log.warning("click %s: %s; trying again", click.id, exc)
            self._again(click, received)
            return
        try:
            self._too_old(click)
        except StoreError:  # a replay finds it too old too, and says so again
            log.warning("click %s: told, but the database could not note it", click.id)
        except NotTold:
            log.error("click %s by %s did not count and its clicker could not be told",
                      click.id, click.user)

    def _too_old(self, click: Click) -> None:
        """Tell the clicker the click did not count, then end it as ``told``."""
        text = render_click_too_old(click.kind, self.max_age)
        if not self.reviews.surfaces.tell_clicker(click.user, click.channel,
                                                  click.response_url, text):
            raise NotTold(f"could not tell {click.user} about click {click.id}")
        self.reviews.ledger.tell_click(click.id, text)

    def _again(self, click: Click, received: float) -> None:
        def resubmit() -> None:
            self._timers.discard(timer)
            try:
                self.pool.submit(self._attempt, click.id, click, received, 0.0)
            except RuntimeError:  # shutting down: the replay after the restart takes it
                log.info("click %s left for replay", click.id)

        timer = threading.Timer(self.retry_every, resubmit)
        timer.daemon = True
        self._timers.add(timer)
        timer.start()

    # -- replay -----------------------------------------------------------------------------

    def replay(self, *, batch: int = 50) -> int:
        """Decide (or answer) every click whose lease has run out; returns how many."""
        done = 0
        while True:
            try:
                clicks = self.reviews.ledger.claim_clicks(owner=self.owner, lease=self.lease,
                                                          limit=batch)
            except StoreError as exc:
                log.warning("click replay: %s", exc)
                return done
            now = self.reviews.ledger.db_now() if clicks else None
            for click in clicks:
                self._replay_one(click, now)
            done += len(clicks)
            if len(clicks) < batch:
                return done

    def _replay_one(self, click: Click, now: datetime | None) -> None:
        try:
            if now is not None and now - click.received_at > self.max_age:
                self._too_old(click)  # whatever made it fail so long, it no longer counts
                return
            self.reviews.decide_click(click)
        except (StoreError, NotTold) as exc:  # its lease runs out; a later replay retries
            log.warning("replaying click %s: %s", click.id, exc)
        except Exception:
            log.exception("replaying click %s failed", click.id)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        for timer in list(self._timers):
            timer.cancel()
