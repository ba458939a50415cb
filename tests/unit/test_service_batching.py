"""How the routing service groups waiting requests into batches."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ecos_migration.routing.codes import Route, RoutingDecision
from ecos_migration.routing.router import RoutedRequest
from ecos_migration.service import _GroupRouter


def _routed(body: bytes) -> RoutedRequest:
    return RoutedRequest(body.decode(), None, RoutingDecision(Route.TCOS_PARTY), "DECIDED")


def test_requests_during_batch_form_next() -> None:
    batches: list[list[bytes]] = []
    first_started = threading.Event()
    release_first = threading.Event()

    def route_batch(bodies: list[bytes]) -> list[RoutedRequest]:
        batches.append(bodies)
        if len(batches) == 1:
            first_started.set()
            release_first.wait(timeout=10)
        return [_routed(body) for body in bodies]

    async def scenario() -> list[RoutedRequest]:
        group = _GroupRouter(route_batch)
        first = asyncio.ensure_future(group.route(b"a"))
        await asyncio.get_running_loop().run_in_executor(None, first_started.wait, 10)
        later = [asyncio.ensure_future(group.route(body)) for body in (b"b", b"c", b"d")]
        await asyncio.sleep(0)
        release_first.set()
        results = await asyncio.gather(first, *later)
        group.close()
        return results

    results = asyncio.run(scenario())
    assert [item.request_id for item in results] == ["a", "b", "c", "d"]
    assert batches == [[b"a"], [b"b", b"c", b"d"]]


def test_failed_batch_fails_each_request() -> None:
    def route_batch(bodies: list[bytes]) -> list[RoutedRequest]:
        raise RuntimeError("database unavailable")

    async def scenario() -> None:
        group = _GroupRouter(route_batch)
        outcomes = await asyncio.gather(
            group.route(b"a"), group.route(b"b"), return_exceptions=True
        )
        group.close()
        assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)

    asyncio.run(scenario())


def test_router_recovers_after_failed_batch() -> None:
    calls = 0

    def route_batch(bodies: list[bytes]) -> list[RoutedRequest]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database unavailable")
        return [_routed(body) for body in bodies]

    async def scenario() -> RoutedRequest:
        group = _GroupRouter(route_batch)
        with pytest.raises(RuntimeError):
            await group.route(b"a")
        result = await group.route(b"b")
        group.close()
        return result

    assert asyncio.run(scenario()).request_id == "b"
