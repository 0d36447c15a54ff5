"""The agent gateway's HTTP API (FastAPI on uvicorn, in ``signoff serve``).

Blocking work (the ledger, Slack) runs in FastAPI's thread pool; waiting for a decision
does not: ``GET /v1/requests/{id}?wait=S`` sleeps on an event the ticket's next change
sets (:mod:`bot.server.api.waiters`), so a replica holds many waiting agents without a
thread each. Slack's requests keep their own server (waitress, ack-first) on another port
of the same process: handing each ack from Bolt's threads back to an event loop cost bursts
of clicks tens of milliseconds at p99 (docs/benchmarks.md).
"""

# No "from __future__ import annotations": FastAPI reads these annotations at run time.

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Response

from bot.server.api import errors
from bot.server.api.calls import TokenDep, answer, as_agent, in_pool
from bot.server.api.errors import RESPONSES
from bot.server.api.gateway import Gateway
from bot.server.api.models import (
    AnswerIn,
    CancelIn,
    DeniedOut,
    ExecutionIn,
    ExecutionOut,
    Jwks,
    OutcomeIn,
    RedeemIn,
    RedeemOut,
    RequestIn,
    TicketOut,
)
from bot.server.api.plans import plan_routes
from bot.server.api.waiters import listen_postgres
from store.models import TicketStatus

MAX_WAIT_S = 60.0


def build_api(gw: Gateway, *, database_url: str | None = None) -> FastAPI:
    """The FastAPI app serving ``/v1/...`` (and ``/v1/healthz``)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        gw.hub.start(asyncio.get_running_loop())
        task = None
        if database_url is not None and database_url.startswith("postgres"):
            task = asyncio.create_task(listen_postgres(database_url, gw.hub))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            gw.hub.stop()

    app = FastAPI(title="signoff agent gateway", version="1", lifespan=lifespan,
                  openapi_url="/v1/openapi.json", docs_url="/v1/docs", redoc_url=None)
    errors.install(app)
    app.include_router(_routes(gw))
    app.include_router(plan_routes(gw))
    return app


def _routes(gw: Gateway) -> APIRouter:
    router = APIRouter(prefix="/v1", responses=RESPONSES)

    @router.post("/requests", response_model=TicketOut | DeniedOut | ExecutionOut,
                 tags=["requests"],
                 summary="Ask for approval (policy, ticket, card)")
    async def create_request(body: RequestIn, token: TokenDep) -> Response:
        return await answer(gw, token, gw.request, body)

    @router.get("/requests/{ticket_id}", response_model=TicketOut, tags=["requests"],
                summary="Read a request; with wait=S, return as soon as it leaves pending")
    async def get_request(ticket_id: str, token: TokenDep,
                          wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S)] = 0
                          ) -> Response:
        if wait == 0:
            return await answer(gw, token, gw.view, ticket_id)
        # Listening starts before the read, so a change in between still wakes us.
        async with gw.hub.watching(ticket_id) as changed:
            ticket: TicketOut = await in_pool(as_agent, gw, token, gw.view, ticket_id)
            if ticket.status != TicketStatus.PENDING:
                return Response(ticket.model_dump_json(), media_type="application/json")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), wait)
        # Read again as a fresh request: a token revoked during the wait is refused.
        return await answer(gw, token, gw.view, ticket_id)

    @router.post("/requests/{ticket_id}/execution", response_model=ExecutionOut,
                 tags=["execution"], summary="Claim the approval once: args + receipt")
    async def claim(ticket_id: str, token: TokenDep,
                    body: ExecutionIn | None = None) -> Response:
        return await answer(gw, token, gw.claim, ticket_id, body.args if body else None,
                            body.action if body else None)

    @router.post("/requests/{ticket_id}/outcome", response_model=TicketOut, tags=["execution"])
    async def outcome(ticket_id: str, body: OutcomeIn, token: TokenDep) -> Response:
        return await answer(gw, token, gw.outcome, ticket_id, body)

    @router.post("/requests/{ticket_id}/cancel", response_model=TicketOut, tags=["requests"])
    async def cancel(ticket_id: str, body: CancelIn, token: TokenDep) -> Response:
        return await answer(gw, token, gw.cancel, ticket_id, body.reason)

    @router.post("/requests/{ticket_id}/answer", response_model=TicketOut, tags=["requests"])
    async def answer_info(ticket_id: str, body: AnswerIn, token: TokenDep) -> Response:
        return await answer(gw, token, gw.answer, ticket_id, body)

    @router.get("/healthz", tags=["service"], summary="The API answers and the database too")
    def health() -> dict[str, Any]:
        return {"ok": True, "db_time": gw.ledger.db_now().isoformat(),
                "waiting": gw.hub.waiting}

    @router.get("/keys", response_model=Jwks, tags=["receipts"],
                summary="Public keys that verify approval receipts (JWKS)")
    def keys() -> dict[str, Any]:
        return gw.jwks()

    @router.post("/receipts/redeem", response_model=RedeemOut, tags=["receipts"],
                 summary="Use a receipt online, once")
    def redeem(body: RedeemIn) -> RedeemOut:
        # The receipt is the credential: the tool service that holds it needs no token.
        return gw.redeem(body.receipt, actor="tool")

    return router
