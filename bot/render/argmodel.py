"""Argument models travel with the ticket as JSON Schema.

The agent defines a pydantic model for a tool's arguments; the bot, in another process,
rebuilds an equivalent model from the schema stored on the ticket, so the edit form and
its validation follow the agent's own types and bounds.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from bot.render.values import marked_secret

SECRET_MARK = "secret"


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def model_from_schema(schema: dict[str, Any], name: str = "Args") -> type[BaseModel]:
    """A pydantic model equivalent (for editing purposes) to the one the schema came from."""
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    fields: dict[str, Any] = {}
    for field_name, prop in schema.get("properties", {}).items():
        annotation, constraints = _annotation(prop, defs)
        extra = {k: prop[k] for k in ("title", "description") if k in prop}
        if marked_secret(prop):  # the bot masks it on every surface
            extra["json_schema_extra"] = {SECRET_MARK: True}
        if field_name in required:
            fields[field_name] = (annotation, Field(..., **constraints, **extra))
        else:
            fields[field_name] = (annotation, Field(prop.get("default"), **constraints, **extra))
    closed = schema.get("additionalProperties", True) is False
    config = ConfigDict(extra="forbid" if closed else "allow")
    model: type[BaseModel] = create_model(name, __config__=config, **fields)
    return model


def _annotation(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    if "$ref" in prop:
        prop = {**defs.get(prop["$ref"].rsplit("/", 1)[-1], {}), **{
            k: v for k, v in prop.items() if k != "$ref"}}
    if prop.get("anyOf"):
        options = [p for p in prop["anyOf"] if p.get("type") != "null"]
        if len(options) == 1:
            rest = {k: v for k, v in prop.items() if k != "anyOf"}
            inner, constraints = _annotation({**rest, **options[0]}, defs)
            return inner | None, constraints
        return Any, {}
    if prop.get("enum"):
        return Literal[tuple(prop["enum"])], {}
    if "const" in prop:
        return Literal[prop["const"]], {}
    return _scalar(prop)


def _scalar(prop: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    kind = prop.get("type")
    bounds = {key: prop[src] for src, key in (("minimum", "ge"), ("maximum", "le"),
                                              ("exclusiveMinimum", "gt"),
                                              ("exclusiveMaximum", "lt")) if src in prop}
    if kind == "integer":
        return int, bounds
    if kind == "number":
        return float, bounds
    if kind == "boolean":
        return bool, {}
    if kind == "array":
        return list[Any], {}
    if kind == "object":
        return dict[str, Any], {}
    if kind == "string":
        fmt = prop.get("format")
        if fmt == "date":
            return date, {}
        if fmt == "date-time":
            return datetime, {}
        lengths = {key: prop[src] for src, key in (("minLength", "min_length"),
                                                   ("maxLength", "max_length")) if src in prop}
        if "pattern" in prop:
            lengths["pattern"] = prop["pattern"]
        return str, lengths
    return Any, {}
