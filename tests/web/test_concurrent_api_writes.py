"""Concurrent writes through the API (issue 14, defect 1; session 5's write path).

On SQLite a request's writer session is now made on the event loop and takes the writer
lock only at ``BEGIN IMMEDIATE`` (in the endpoint's thread); deaths of one patient sent at
once through the app must still store exactly one, on both backends, and every accepted
answer must be an event that is stored.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import select

from infantall.registry.models import Event, Patient
from infantall.registry.verify import verify_registry

API = "/api/v1"
N = 8
PATIENT = {
    "local_code": "CW-001",
    "birth_date": "2024-03-01",
    "diagnosis_date": "2024-06-15",
    "kmt2a": "rearranged",
}


async def _deaths(app: Any, rid: str, headers: dict[str, str]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:

        async def one(i: int) -> httpx.Response:
            body = {"kind": "death", "date": f"2024-09-{i + 1:02d}", "cause": "leukemia"}
            return await c.post(f"{API}/patients/{rid}/events", json=body, headers=headers)

        return await asyncio.gather(*(one(i) for i in range(N)))


def test_deaths_sent_at_once_through_the_api_store_exactly_one(
    app: Any, client: Any, auth: dict[str, dict[str, str]], registry: Any
) -> None:
    _, database = registry
    r = client.post(f"{API}/patients", json=PATIENT, headers=auth["editor_a"])
    assert r.status_code == 201, r.text
    rid = r.json()["registry_id"]
    with ThreadPoolExecutor(max_workers=1) as pool:  # a loop of its own (see the read test)
        answers = pool.submit(asyncio.run, _deaths(app, rid, auth["editor_a"])).result()
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1, [(a.status_code, a.text[:200]) for a in answers]
    assert set(codes) <= {201, 422}
    with database.read_sessions() as s:
        stored = list(
            s.scalars(
                select(Event.registry_id)
                .join(Patient)
                .where(Patient.registry_id == rid, Event.kind == "death")
            )
        )
    accepted = [a.json()["registry_id"] for a in answers if a.status_code == 201]
    assert stored == accepted
    assert verify_registry(database).ok
