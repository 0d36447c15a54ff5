"""Configuration problems: where (file, line, key), what is wrong, and how to fix it."""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic_core import ErrorDetails

from escalation.yaml_marks import Marks, Path, path_text
from store.errors import ConfigError, ConfigInvalid, ConfigNotFound, Problem

__all__ = ["ConfigError", "ConfigInvalid", "ConfigNotFound", "Problem"]  # defined in store.errors


@dataclass(frozen=True)
class Finding:
    """A problem before it is placed in a file: the key path, message and fix."""

    path: Path
    message: str
    fix: str | None = None

    def place(self, file: str, marks: Marks | None) -> Problem:
        line = marks.line(self.path) if marks else None
        return Problem(file, line, path_text(self.path), self.message, self.fix)


def closest(word: str, choices: Iterable[str]) -> str:
    """``did you mean 'x'? `` when something is close, else ``''``."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}? " if match else ""


def yaml_problem(file: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    what = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {what}" + (f" ({context})" if context else "")
    if "alias" in message or "'*'" in message or "'&'" in message:
        fix = 'quote values that start with * or &, e.g. action: "*"'
    else:
        fix = "check the indentation and quoting on this line and the one before it"
    return Problem(file, line, "", message, fix)


_AUTO_APPROVE = re.compile(r"timeout|auto_?approv|approve_on|on_expir|expir\w*_action", re.I)
_KINDS = {
    "string_type": "text", "int_type": "a whole number", "float_type": "a number",
    "bool_type": "true or false", "list_type": "a list", "tuple_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
}
_BOUNDS = {"greater_than": "greater than {gt}", "greater_than_equal": "at least {ge}",
           "less_than": "less than {lt}", "less_than_equal": "at most {le}",
           "too_short": "at least {min_length} long", "too_long": "at most {max_length} long"}
_MISSING_FIX = {
    "version": "add version: 1", "channel": "add channel: C… (the review channel's id)",
    "approvers": "add approvers: <a group under reviewers>", "chain": "add chain: <a chain name>",
    "expire_after": "add expire_after, e.g. 2h (an unanswered request is then denied)",
    "decide": "add decide: allow, require_approval or deny", "notify": "add notify: [U…]",
    "after": "add after, e.g. 15m",
}


def describe_value(value: Any) -> str:
    """``the number 15``, ``the text 'abc'``: a short account of a wrong value."""
    kind = {bool: "true/false", int: "the number", float: "the number", str: "the text",
            list: "the list", dict: "the mapping", type(None): "nothing"}.get(type(value))
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return "nothing" if value is None else f"{kind or type(value).__name__} {shown}"


def from_validation(errors: Sequence[ErrorDetails], root: type[BaseModel]) -> list[Finding]:
    """Turn pydantic's errors into findings with a message and a fix."""
    return [_finding(err, root) for err in errors]


def _finding(err: ErrorDetails, root: type[BaseModel]) -> Finding:
    loc: Path = tuple(p for p in err["loc"] if p != "[key]")
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "signoff":
        return Finding(loc, str(ctx["message"]), ctx.get("fix"))
    if kind == "extra_forbidden":
        return _unknown_key(loc, root)
    if kind == "missing":
        return Finding(loc, f"missing required key {loc[-1]!r}",
                       _MISSING_FIX.get(str(loc[-1]), f"add {loc[-1]}"))
    if loc == ("version",):
        return Finding(loc, f"unsupported version {value!r}", "this signoff reads version: 1")
    if kind in ("literal_error", "enum"):
        return Finding(loc, f"{value!r} is not allowed here", f"use one of: {ctx.get('expected')}")
    if kind in _KINDS:
        return Finding(loc, f"expected {_KINDS[kind]}, got {describe_value(value)}", None)
    if kind in _BOUNDS:
        return Finding(loc, f"{value!r} is out of range: it must be {_BOUNDS[kind].format(**ctx)}")
    return Finding(loc, err["msg"].removeprefix("Value error, "), None)


def _unknown_key(loc: Path, root: type[BaseModel]) -> Finding:
    key = str(loc[-1])
    if _AUTO_APPROVE.search(key):
        return Finding(
            loc,
            f"unknown key {key!r}: signoff has no setting that approves or runs an action "
            "because time passed",
            "remove it; an unanswered request expires after expire_after, and expiry is a denial",
        )
    allowed = allowed_keys(root, loc[:-1])
    fix = closest(key, allowed) + (f"allowed here: {', '.join(allowed)}" if allowed else "")
    return Finding(loc, f"unknown key {key!r}", fix.strip() or None)


def allowed_keys(root: type[BaseModel], loc: Path) -> list[str]:
    """The keys the model at ``loc`` accepts (by their YAML names)."""
    annotation: Any = root
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    model = _unwrap(annotation)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    origin = get_origin(annotation)
    if origin is dict:
        return get_args(annotation)[1]
    if origin in (tuple, list):
        return get_args(annotation)[0]
    return None
