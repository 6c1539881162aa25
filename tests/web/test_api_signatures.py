"""E-signatures over the JSON API (issue 14), on SQLite and PostgreSQL: the answers and
codes of sign, lock and unlock as a client sees them, and ``registry verify`` afterwards."""

from __future__ import annotations

from typing import Any

from infantall.registry.testing import SEED_PASSWORD
from infantall.registry.verify import verify_registry

API = "/api/v1"


def _patient(client: Any, auth: Any) -> tuple[str, str]:
    body = {"local_code": "API-SIG", "birth_date": "2024-01-01", "diagnosis_date": "2024-03-01"}
    p = client.post(f"{API}/patients", json=body, headers=auth["editor_a"])
    assert p.status_code == 201, p.text
    pid = p.json()["registry_id"]
    e = client.post(
        f"{API}/patients/{pid}/events",
        json={"kind": "last_contact", "date": "2024-12-01"},
        headers=auth["editor_a"],
    )
    assert e.status_code == 201, e.text
    return pid, e.json()["registry_id"]


def test_sign_lock_unlock_over_the_api(client: Any, auth: Any, registry: Any) -> None:
    _, database = registry
    pid, eid = _patient(client, auth)
    url = f"{API}/patients/{pid}"
    sign = {"password": "wrong-password!", "meaning": "reviewed and approved"}
    r = client.post(f"{url}/signatures", json=sign, headers=auth["inv_a"])
    assert r.status_code == 403 and r.json()["code"] == "signature_refused"
    bad_meaning = {"password": SEED_PASSWORD, "meaning": "looked at it"}
    assert (
        client.post(f"{url}/signatures", json=bad_meaning, headers=auth["inv_a"]).status_code == 422
    )
    r = client.post(
        f"{url}/signatures", json={**sign, "password": SEED_PASSWORD}, headers=auth["inv_a"]
    )
    assert r.status_code == 201, r.text
    signature = r.json()
    assert signature["status"] == "active" and signature["meaning"] == "reviewed and approved"
    assert len(signature["content_digest"]) == 64
    editor = auth["editor_a"]
    refused = [
        client.patch(url, json={"version": 1, "reason": "r", "wbc": 10}, headers=editor),
        client.post(f"{url}/void", json={"version": 1, "reason": "r"}, headers=editor),
        client.post(
            f"{url}/events", json={"kind": "last_contact", "date": "2025-01-01"}, headers=editor
        ),
        client.patch(
            f"{url}/events/{eid}",
            json={
                "version": 1,
                "reason": "r",
                "event": {"kind": "last_contact", "date": "2025-02-01"},
            },
            headers=editor,
        ),
        client.post(f"{url}/events/{eid}/void", json={"version": 1, "reason": "r"}, headers=editor),
        client.post(f"{url}/risk-groups", json={"protocols": ["interfant-06"]}, headers=editor),
    ]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(409, "record_locked")] * 6
    state = client.get(f"{url}/signatures", headers=auth["viewer_a"]).json()
    assert state["locked"] and state["content_digest"] == signature["content_digest"]
    assert client.post(f"{url}/unlock", json={}, headers=auth["inv_a"]).status_code == 422
    r = client.post(f"{url}/unlock", json={"reason": "new data"}, headers=auth["inv_a"])
    assert r.status_code == 200 and not r.json()["locked"]
    assert r.json()["signatures"][0]["status"] == "superseded"
    again = client.post(f"{url}/unlock", json={"reason": "again"}, headers=auth["coord"])
    assert again.status_code == 409 and again.json()["code"] == "not_locked"
    r = client.patch(url, json={"version": 1, "reason": "r", "wbc": 10}, headers=editor)
    assert r.status_code == 200, r.text
    assert verify_registry(database).ok
