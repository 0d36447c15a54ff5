"""Every error the HTTP API answers: a status, a stable ``error`` code and a message."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.agent.errors import ApprovalError, InvalidRequest
from bot.server.api.models import ErrorOut
from store.errors import (
    ActionMismatch,
    ApprovalUnverifiable,
    ArgumentsMismatch,
    OpenRequestsCapped,
    SignoffError,
    StoreUnavailable,
    TicketNotFound,
    TransitionRefused,
)

RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in [
        (401, "missing, unknown or revoked token"), (403, "action outside the token's scope"),
        (404, "no such request for this agent"), (409, "conflict with the request's state"),
        (422, "invalid input, with field errors"), (429, "too many open requests"),
    ]
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers
        self.extra = extra


#: When an agent at its cap of open requests is told to ask again.
RETRY_AFTER_S = 30


def too_many_pending(exc: OpenRequestsCapped) -> ApiError:
    """429, the agent's cap of open requests reached (``TooManyPending`` on the client)."""
    return ApiError(429, "too_many_pending", str(exc),
                    headers={"Retry-After": str(RETRY_AFTER_S)}, retry_after=RETRY_AFTER_S)


def _code(exc: Exception) -> str:
    """``IdempotencyConflict`` → ``idempotency_conflict``: stable as long as the class name."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def _status(exc: SignoffError) -> int:
    if isinstance(exc, TicketNotFound):
        return 404
    if isinstance(exc, InvalidRequest):  # InvalidArguments included
        return 422
    if isinstance(exc, StoreUnavailable):
        return 503
    if isinstance(exc, TransitionRefused | ArgumentsMismatch | ActionMismatch | ApprovalError
                  | ApprovalUnverifiable):
        return 409
    if type(exc).__name__ == "IdempotencyConflict":
        return 409
    return 400


def body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_req: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(body(exc.code, exc.message, **exc.extra), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(SignoffError)
    async def _signoff(_req: Request, exc: SignoffError) -> JSONResponse:
        if isinstance(exc, TicketNotFound):
            return JSONResponse(body("not_found", f"no request {exc.ticket_id!r} for this "
                                     "agent"), status_code=404)
        return JSONResponse(body(_code(exc), str(exc)), status_code=_status(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"loc": [str(p) if not isinstance(p, int) else p for p in e["loc"]],
                   "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        where = ", ".join(".".join(str(p) for p in f["loc"]) for f in fields)
        return JSONResponse(body("invalid_request", f"invalid request: check {where}",
                                 fields=fields), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
