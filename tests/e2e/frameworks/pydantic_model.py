"""A Pydantic AI ``FunctionModel`` that needs no network and no API key: it calls the tools it
was given, then answers with what they returned (so a run resumed in another process, with a
fresh model, carries on the same way)."""

from __future__ import annotations

from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel


def tool_calling_model(*calls: tuple[str, dict[str, Any], str]) -> FunctionModel:
    def respond(messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        returns = [str(p.content) for p in last.parts if isinstance(p, ToolReturnPart)] \
            if isinstance(last, ModelRequest) else []
        if returns:
            return ModelResponse(parts=[TextPart(" | ".join(returns))])
        return ModelResponse(parts=[ToolCallPart(name, dict(args), tool_call_id=call_id)
                                    for name, args, call_id in calls])

    return FunctionModel(respond)
