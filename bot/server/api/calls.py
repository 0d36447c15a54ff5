"""How a route of the agent API calls the gateway: the token checked and the work done in
one trip to the thread pool, the answer serialised once."""

# No "from __future__ import annotations": FastAPI reads these annotations at run time.

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from bot.server.api.gateway import Gateway

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
#: As many threads as FastAPI's own pool allows (anyio's 40), which the PostgreSQL pool is
#: sized for (store.db.PG_POOL_SIZE): the agent API's blocking work runs here.
WORKERS = 40
_pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="signoff-api")
_bearer = HTTPBearer(auto_error=False, description="a token from `signoff agents add`")


async def token_of(cred: Annotated[HTTPAuthorizationCredentials | None,
                                   Depends(_bearer)]) -> str | None:
    """The bearer token as sent; checked against the database in the request's one trip to
    the thread pool (:func:`answer`), not here, so each request takes one trip, not two."""
    return cred.credentials if cred else None


TokenDep = Annotated[str | None, Depends(token_of)]


async def answer(gw: Gateway, token: str | None, work: Callable[..., BaseModel],
                 *args: Any) -> Response:
    """``work(agent, *args)`` for the agent holding ``token``, looked up afresh (a revoked
    token is refused at once), in one trip to the thread pool; the result is serialised
    once, as it is. FastAPI would validate the returned model again against the route's
    ``response_model`` (which still documents the route) and, for a plain ``def`` route,
    take another trip to the pool to do it and one more for the dependency."""
    out = await in_pool(as_agent, gw, token, work, *args)
    return Response(out.model_dump_json(), media_type="application/json")


def as_agent(gw: Gateway, token: str | None, work: Callable[..., M], *args: Any) -> M:
    return work(gw.authenticate(token), *args)


async def in_pool(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in the API's worker threads. A plain executor hand-off: anyio's
    ``to_thread`` (FastAPI's ``run_in_threadpool``) wraps each call in a cancel scope, a
    capacity limiter and a context copy, which cost a GET of a ticket about a sixth of its
    CPU on the event loop; nothing here reads a context variable."""
    return await asyncio.get_running_loop().run_in_executor(_pool, functools.partial(fn, *args))
