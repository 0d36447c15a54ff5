"""``GET /metrics``: Prometheus text format, built with ``prometheus_client``.

Two kinds of figures:

- this process's counters (:mod:`bot.counters`): HTTP requests, Slack 429s and 5xx;
- the ledger's figures, read from the database at scrape time by :class:`LedgerCollector`,
  so every replica reports the same queue depth, oldest request and totals (aggregate them
  with ``max``, not ``sum``).

Label values are bounded: outcome, decision kind, tier, route (from config), action (the
busiest :data:`MAX_ACTIONS` actions; the rest are ``other``). No ticket or user ids.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from bot.counters import PROCESS
from store.errors import StoreError
from store.gauges import Count, LedgerGauges
from store.ledger import Ledger
from store.stats import QualityStats

log = logging.getLogger(__name__)
METRICS_PATH = "/metrics"
MAX_ACTIONS = 50
DECISION_BUCKETS = (10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 24 * 3600.0)
AUDITED = ("delivery_failed", "execution_refused", "moved")


class LedgerCollector(Collector):
    """Reads the ledger on every scrape; a database it cannot reach is ``signoff_ledger_up 0``."""

    def __init__(self, ledger: Ledger) -> None:
        self.gauges = LedgerGauges(ledger.engine)
        self.stats = QualityStats(ledger.engine)
        self.ledger = ledger

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        up = GaugeMetricFamily("signoff_ledger_up", "1 if the ledger answered this scrape")
        try:
            families = list(self._families())
        except StoreError as exc:
            log.warning("metrics: ledger unreadable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families
        took = GaugeMetricFamily("signoff_ledger_scrape_seconds",
                                 "Time spent reading the ledger for this scrape")
        took.add_metric([], time.monotonic() - started)
        yield took

    def _families(self) -> Iterator[Metric]:
        g = self.gauges
        now = g.db_now()
        yield _counter("signoff_requests", "Requests by policy outcome (allowed, review, "
                       "grant, denied), action, tier and route; canaries excluded",
                       ["outcome", "action", "tier", "route"], _bounded_actions(g.requests()))
        yield _counter("signoff_decisions", "Decisions by kind (approved, approved_with_edits, "
                       "approved_by_grant, rejected, info_requested, taken_over, "
                       "break_glass, expired, "
                       "cancelled), route, tier",
                       ["kind", "route", "tier"], g.decisions())
        yield self._histogram(g)
        yield from self._queue(now)
        lag = GaugeMetricFamily("signoff_sweep_lag_seconds", "Age of the oldest reminder, DM "
                                "or expiry that is due and not yet done (0 when caught up)")
        lag.add_metric([], g.sweep_lag(now))
        yield lag
        yield _counter("signoff_escalation_steps", "Escalation steps by kind (remind, notify, "
                       "expire) and delivery status", ["kind", "status"], g.escalation_steps())
        yield _counter("signoff_audit_events", "Audit events of operational interest "
                       "(delivery_failed, execution_refused, moved)", ["kind"],
                       g.audit_counts(AUDITED))
        yield from self._break_glass()
        yield _counter("signoff_grant_approvals", "Requests approved by a standing grant "
                       "(no card), by action and route", ["action", "route"],
                       g.grant_approvals())
        yield _counter("signoff_canary_decisions", "Canary decisions per route: caught "
                       "(rejected, taken over) or missed (approved)", ["route", "result"],
                       g.canaries())

    def _break_glass(self) -> Iterator[Metric]:
        counts = self.ledger.break_glass_counts()
        total = CounterMetricFamily("signoff_break_glass", "Requests run by break-glass, "
                                    "before anyone approved them")
        total.add_metric([], counts["total"])
        witnessed = CounterMetricFamily("signoff_break_glass_witnessed", "Break-glass a second "
                                        "person witnessed, in time or late", labels=["late"])
        witnessed.add_metric(["false"], counts["witnessed"] - counts["witnessed_late"])
        witnessed.add_metric(["true"], counts["witnessed_late"])
        escalated = CounterMetricFamily("signoff_break_glass_escalated", "Break-glass escalated "
                                        "along the chain as an unwitnessed override")
        escalated.add_metric([], counts["escalated"])
        open_ = GaugeMetricFamily("signoff_break_glass_unwitnessed", "Break-glass nobody has "
                                  "witnessed yet")
        open_.add_metric([], counts["unwitnessed"])
        yield from (total, witnessed, escalated, open_)

    def _histogram(self, g: LedgerGauges) -> Metric:
        family = HistogramMetricFamily(
            "signoff_time_to_decision_seconds", "Creation to a human's decision, by route and "
            "tier (canaries excluded)", labels=["route", "tier"])
        for b in g.time_to_decision(DECISION_BUCKETS):
            buckets = [(_le(bound), float(n)) for bound, n in zip(b.bounds, b.counts,
                                                                    strict=True)]
            buckets.append(("+Inf", float(b.total)))
            family.add_metric([b.labels["route"], b.labels["tier"]], buckets, b.sum)
        return family

    def _queue(self, now: Any) -> Iterator[Metric]:
        depth = GaugeMetricFamily("signoff_open_requests", "Requests waiting for a human, by "
                                  "route and tier", labels=["route", "tier"])
        oldest = GaugeMetricFamily("signoff_oldest_open_request_age_seconds", "Age of the "
                                   "oldest request waiting for a human, by route",
                                   labels=["route"])
        ages: dict[str, float] = {}
        for q in self.stats.open_queue():
            depth.add_metric([q.route, q.tier], q.count)
            if q.oldest_created_at is not None:
                age = max(0.0, (now - q.oldest_created_at).total_seconds())
                ages[q.route] = max(ages.get(q.route, 0.0), age)
        for route, age in sorted(ages.items()):
            oldest.add_metric([route], age)
        yield depth
        yield oldest


def _le(bound: float) -> str:
    return f"{bound:g}" if bound < 1e6 else repr(bound)


def _counter(name: str, doc: str, labels: list[str], counts: Iterable[Count]) -> Metric:
    family = CounterMetricFamily(name, doc, labels=labels)
    for c in counts:
        family.add_metric([c.labels[k] for k in labels], c.value)
    return family


def _bounded_actions(counts: list[Count]) -> list[Count]:
    """Keep the busiest :data:`MAX_ACTIONS` actions; fold the rest into ``other``."""
    totals: dict[str, float] = {}
    for c in counts:
        totals[c.labels["action"]] = totals.get(c.labels["action"], 0) + c.value
    kept = set(sorted(totals, key=lambda a: (-totals[a], a))[:MAX_ACTIONS])
    folded: dict[tuple[str, ...], float] = {}
    for c in counts:
        labels = dict(c.labels, action=c.labels["action"] if c.labels["action"] in kept
                      else "other")
        key = tuple(labels[k] for k in ("outcome", "action", "tier", "route"))
        folded[key] = folded.get(key, 0) + c.value
    return [Count(labels=dict(zip(("outcome", "action", "tier", "route"), k, strict=True)),
                  value=v) for k, v in folded.items()]


class _Process(Collector):
    """This process's counters, in the same exposition as the ledger's figures; under
    ``serve --processes`` (prometheus_client's multiprocess mode) every process's, summed,
    whichever process the scrape reached."""

    def __init__(self) -> None:
        shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.source: Collector = PROCESS
        if shared:
            self.source = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(self.source, shared)

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()


def metrics_registry(ledger: Ledger) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Process())
    registry.register(LedgerCollector(ledger))
    return registry


def metrics_app(ledger: Ledger) -> Callable[..., Iterable[bytes]]:
    """The WSGI app answering ``GET /metrics`` (mount it at :data:`METRICS_PATH`)."""
    app: Callable[..., Iterable[bytes]] = make_wsgi_app(metrics_registry(ledger))
    return app


__all__ = ["METRICS_PATH", "LedgerCollector", "metrics_app", "metrics_registry"]
