"""One ``signoff policy suggest`` run: read the decision record, propose, and render the
proposals as a diff of the configuration text. Shared by the command and the demo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from escalation.config import SignoffConfig
from escalation.quality import rubber_stamp_flags
from escalation.suggest import Suggestion, suggest
from escalation.suggest_diff import apply, unified
from escalation.yaml_marks import load_yaml
from store.ledger import Ledger
from store.proposals import reviewed_requests
from store.stats import QualityStats


@dataclass(frozen=True)
class SuggestReport:
    since: datetime
    reviewed: int
    """Reviewed requests read."""
    weak: frozenset[str]
    """Reviewers flagged as rubber-stamping (their approvals are weak evidence)."""
    suggestions: list[Suggestion]
    diff: str
    """A unified diff of the configuration text (empty without suggestions)."""
    notes: list[str]


def suggest_report(ledger: Ledger, config: SignoffConfig, text: str, path: str, *,
                   since: datetime, until: datetime) -> SuggestReport:
    """The suggestions for ``config`` (whose YAML is ``text``, shown as ``path``) from the
    decisions made between ``since`` and ``until``. Reads only; writes nothing."""
    reviewed = reviewed_requests(ledger, since)
    figures = QualityStats(ledger.engine).reviewer_figures(since)
    weak = frozenset(flag.reviewer for flag in rubber_stamp_flags(figures, config.quality))
    found = suggest(config, reviewed, weak=set(weak), since=since, until=until)
    diff, notes = "", list[str]()
    if found:
        edited, notes = apply(text, load_yaml(text)[1], found)
        diff = unified(text, edited, path)
    return SuggestReport(since, len(reviewed), weak, found, diff, notes)
