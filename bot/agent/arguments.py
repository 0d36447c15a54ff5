"""A tool's arguments on the agent's side, whichever backend carries them: validated against
the tool's model before the request, the model's JSON Schema sent along, the approved values
checked again before the run, and the run's result summed up for the record."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.agent.errors import InvalidArguments
from bot.render.argmodel import schema_of
from store.models import Ticket

SUMMARY_LIMIT = 500


def validated(action: str, args: dict[str, Any],
              model: type[BaseModel] | None) -> dict[str, Any]:
    """The arguments as the model reads them (JSON-ready); unchanged without a model."""
    if model is None:
        return dict(args)
    try:
        return model.model_validate(args).model_dump(mode="json")
    except ValidationError as exc:
        raise InvalidArguments(action, exc) from exc


@lru_cache(maxsize=256)
def _schema_json(model: type[BaseModel]) -> str:
    return json.dumps(schema_of(model))


def schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema, generated once per model (a fresh copy for each ticket)."""
    parsed: dict[str, Any] = json.loads(_schema_json(model))
    return parsed


def check_model(ticket: Ticket, args: dict[str, Any],
                model: type[BaseModel] | None) -> dict[str, Any]:
    """The tool receives exactly the approved values; a model only checks them."""
    if model is not None:
        try:
            model.model_validate(args)
        except ValidationError as exc:
            raise InvalidArguments(ticket.action, exc) from exc
    return dict(args)


def summary(result: Any) -> str:
    text = repr(result)
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"
