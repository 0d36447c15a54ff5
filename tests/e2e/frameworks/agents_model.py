"""A model for the OpenAI Agents SDK that needs no network and no API key: it calls the tools
it was given, then reports their outputs as its final answer (so a run resumed in another
process, with a fresh model, carries on the same way)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from agents import Model, ModelResponse, Usage
from agents.testing import assistant_message, function_call


class ToolCallingModel(Model):
    def __init__(self, *calls: tuple[str, dict[str, Any], str]) -> None:
        self.calls = calls

    async def get_response(self, system_instructions: Any, input: Any, model_settings: Any,
                           tools: Any, output_schema: Any, handoffs: Any, tracing: Any,
                           **_: Any) -> ModelResponse:
        outputs = [str(item.get("output")) for item in (input if isinstance(input, list) else [])
                   if isinstance(item, dict) and item.get("type") == "function_call_output"]
        if outputs:
            output = [assistant_message(" | ".join(outputs))]
        else:
            output = [function_call(name, args, call_id=call_id)
                      for name, args, call_id in self.calls]
        return ModelResponse(output=output, usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("this model does not stream")
