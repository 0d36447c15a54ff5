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

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.server.api import errors
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
from store.agents import Agent
from store.models import TicketStatus

MAX_WAIT_S = 60.0
_bearer = HTTPBearer(auto_error=False, description="a token from `signoff agents add`")


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

    def agent_of(cred: Annotated[HTTPAuthorizationCredentials | None,
                                 Depends(_bearer)]) -> Agent:
        return gw.authenticate(cred.credentials if cred else None)

    AgentDep = Annotated[Agent, Depends(agent_of)]

    @router.post("/requests", response_model=TicketOut | DeniedOut, tags=["requests"],
                 summary="Ask for approval (policy, ticket, card)")
    def create_request(body: RequestIn, agent: AgentDep) -> TicketOut | DeniedOut:
        return gw.request(agent, body)

    @router.get("/requests/{ticket_id}", response_model=TicketOut, tags=["requests"],
                summary="Read a request; with wait=S, return as soon as it leaves pending")
    async def get_request(ticket_id: str, agent: AgentDep,
                          wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S)] = 0
                          ) -> TicketOut:
        # Listening starts before the read, so a change in between still wakes us.
        async with gw.hub.watching(ticket_id) as changed:
            ticket = await run_in_threadpool(gw.view, agent, ticket_id)
            if wait > 0 and ticket.status == TicketStatus.PENDING:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), wait)
                ticket = await run_in_threadpool(gw.view, agent, ticket_id)
        return ticket

    @router.post("/requests/{ticket_id}/execution", response_model=ExecutionOut,
                 tags=["execution"], summary="Claim the approval once: args + receipt")
    def claim(ticket_id: str, agent: AgentDep, body: ExecutionIn | None = None) -> ExecutionOut:
        return gw.claim(agent, ticket_id, body.args if body else None,
                        body.action if body else None)

    @router.post("/requests/{ticket_id}/outcome", response_model=TicketOut, tags=["execution"])
    def outcome(ticket_id: str, body: OutcomeIn, agent: AgentDep) -> TicketOut:
        return gw.outcome(agent, ticket_id, body)

    @router.post("/requests/{ticket_id}/cancel", response_model=TicketOut, tags=["requests"])
    def cancel(ticket_id: str, body: CancelIn, agent: AgentDep) -> TicketOut:
        return gw.cancel(agent, ticket_id, body.reason)

    @router.post("/requests/{ticket_id}/answer", response_model=TicketOut, tags=["requests"])
    def answer(ticket_id: str, body: AnswerIn, agent: AgentDep) -> TicketOut:
        return gw.answer(agent, ticket_id, body)

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
