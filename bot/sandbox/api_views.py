"""The ``views.*`` methods: modals (open, push, update) and the App Home (publish)."""

from __future__ import annotations

from bot.sandbox.api_base import ApiContext, Args, check_view, method
from bot.sandbox.errors import ApiError
from bot.sandbox.records import Json, View
from bot.sandbox.state import MAX_VIEW_STACK


@method("views.open")
def views_open(ctx: ApiContext, args: Args) -> Json:
    view = check_view(args.json("view"), ("modal",))
    user = ctx.state.use_trigger(args.string("trigger_id"))
    with ctx.state.lock:
        # A freshly opened modal starts a new stack; whatever was open is replaced.
        ctx.state.clear_stack(user)
        record = ctx.state.push_view(user, view)
    return {"view": record.slack_view()}


@method("views.push")
def views_push(ctx: ApiContext, args: Args) -> Json:
    view = check_view(args.json("view"), ("modal",))
    with ctx.state.lock:
        trigger = ctx.state.triggers.get(args.string("trigger_id") or "")
        if trigger is not None and len(ctx.state.stack(trigger.user)) >= MAX_VIEW_STACK:
            raise ApiError("push_limit_reached")
        user = ctx.state.use_trigger(args.string("trigger_id"))
        record = ctx.state.push_view(user, view)
    return {"view": record.slack_view()}


@method("views.update")
def views_update(ctx: ApiContext, args: Args) -> Json:
    view = check_view(args.json("view"), ("modal", "home"))
    with ctx.state.lock:
        record = _find_view(ctx, args.string("view_id"), args.string("external_id"))
        if record.type != view.get("type"):
            message = f"[ERROR] must be {record.type} like the view it updates"
            raise ApiError("invalid_arguments", [f"{message} [json-pointer:/view/type]"])
        _check_hash(record, args.string("hash"))
        ctx.state.replace_view(record, view)
    return {"view": record.slack_view()}


@method("views.publish")
def views_publish(ctx: ApiContext, args: Args) -> Json:
    view = check_view(args.json("view"), ("home",))
    user = args.string("user_id")
    if user is None or ctx.state.workspace.user(user) is None:
        # Slack answers an unknown user_id as a bad argument, not user_not_found.
        raise ApiError("invalid_arguments", ["[ERROR] invalid user_id [json-pointer:/user_id]"])
    with ctx.state.lock:
        home_id = ctx.state.homes.get(user)
        if home_id is None:
            record = ctx.state.new_view(user, view)
            ctx.state.homes[user] = record.id
            record.seq = ctx.state.touch()
        else:
            record = ctx.state.views[home_id]
            _check_hash(record, args.string("hash"))
            ctx.state.replace_view(record, view)
    return {"view": record.slack_view()}


def _find_view(ctx: ApiContext, view_id: str | None, external_id: str | None) -> View:
    if view_id is None and external_id is None:
        raise ApiError("invalid_arguments", ["[ERROR] view_id or external_id is required"])
    for record in ctx.state.views.values():
        matches = record.id == view_id or (
            external_id is not None and record.data.get("external_id") == external_id)
        if matches and record.open:
            return record
    raise ApiError("not_found")


def _check_hash(record: View, given: str | None) -> None:
    # Slack's optimistic locking: a stale hash means someone else updated the view first.
    if given is not None and given != record.hash:
        raise ApiError("hash_conflict")
