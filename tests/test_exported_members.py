"""``bot``'s public names are exactly the documented ones, each importable, none leaking."""

from __future__ import annotations

import inspect

import bot

DOCUMENTED = {
    "ActionMismatch", "ActionNotAllowed", "AgentUnauthorized", "ApprovalCancelled",
    "ApprovalClient", "ApprovalConsumed", "ApprovalDenied", "ApprovalError", "ApprovalExpired",
    "ApprovalNeedsInfo", "ApprovalPending", "ApprovalRejected", "ApprovalTakenOver",
    "ApprovalUnverifiable", "ArgumentsMismatch", "AsyncApprovalClient", "ConfigError",
    "Evidence", "GatedTool", "GatewayRefused", "HttpBackend", "IdempotencyConflict",
    "InvalidArguments", "InvalidRequest", "OutcomeUnknown", "PlanProgress", "PlanStepRefused",
    "RevalidationFailed", "SignoffError",
    "StoreError",
    "StoreUnavailable", "Ticket", "TicketNotFound", "TicketStatus", "TooManyPending",
    "current_receipt",
}


def test_all_lists_the_documented_names_once_and_in_order() -> None:
    assert set(bot.__all__) == DOCUMENTED
    assert sorted(bot.__all__) == bot.__all__, "keep __all__ sorted"


def test_every_exported_name_is_importable_and_public() -> None:
    for name in bot.__all__:
        member = getattr(bot, name)
        assert not member.__name__.startswith("_"), name
        assert member.__module__.split(".")[0] in ("bot", "store"), (name, member.__module__)


def test_nothing_else_public_leaks_from_the_package() -> None:
    public = {name for name, member in vars(bot).items()
              if not name.startswith("_") and not inspect.ismodule(member)}  # not subpackages
    assert public == set(bot.__all__)
