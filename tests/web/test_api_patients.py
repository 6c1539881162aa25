"""Patients through the JSON API: register, read, list, correct, void, concurrency."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from infantall.registry.models import AuditEntry, Patient

API = "/api/v1"


def new_patient(code: str = "A-001", **changes: Any) -> dict[str, Any]:
    """A valid patient body."""
    body: dict[str, Any] = {
        "local_code": code,
        "birth_date": "2024-03-01",
        "diagnosis_date": "2024-06-15",
        "sex": "female",
        "wbc": 320.5,
        "kmt2a": "rearranged",
        "fusion_partner": "AFF1",
        "immunophenotype": "pro_b",
        "cd10": "negative",
        "day8_blasts": 2500,
    }
    body.update(changes)
    return body


def create(client: Any, headers: dict[str, str], **kw: Any) -> dict[str, Any]:
    r = client.post(f"{API}/patients", json=new_patient(**kw), headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_register_read_and_list(client: Any, auth: dict[str, dict[str, str]]) -> None:
    p = create(client, auth["editor_a"])
    assert p["site_code"] == "SITE-A"
    assert p["age_days"] == 106
    assert p["prednisone_response"] == "poor"  # derived by the domain from 2,500 blasts/µL
    assert p["version"] == 1
    got = client.get(f"{API}/patients/{p['registry_id']}", headers=auth["viewer_a"]).json()
    assert got == p
    page = client.get(f"{API}/patients", params={"kmt2a": "rearranged"}, headers=auth["inv_a"])
    assert page.json()["total"] == 1
    assert (
        client.get(f"{API}/patients", params={"sex": "male"}, headers=auth["viewer_a"]).json()[
            "total"
        ]
        == 0
    )


def test_implausible_wbc_is_kept_with_a_warning(
    client: Any, auth: dict[str, dict[str, str]]
) -> None:
    p = create(client, auth["editor_a"], wbc=1100)
    assert p["wbc"] == 1100
    assert any("WBC 1100" in w for w in p["warnings"])


def test_correction_needs_reason_and_current_version(
    client: Any, auth: dict[str, dict[str, str]], registry: Any
) -> None:
    p = create(client, auth["editor_a"])
    url = f"{API}/patients/{p['registry_id']}"
    r = client.patch(url, json={"version": 1, "wbc": 12.0}, headers=auth["editor_a"])
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "reason"
    r = client.patch(
        url, json={"version": 1, "wbc": 12.0, "reason": "   "}, headers=auth["editor_a"]
    )
    assert r.status_code == 422
    assert r.json()["code"] == "reason_required"
    ok = client.patch(
        url,
        json={"version": 1, "wbc": 12.0, "reason": "typo in the lab report"},
        headers=auth["editor_a"],
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["version"] == 2
    stale = client.patch(
        url, json={"version": 1, "wbc": 99.0, "reason": "x"}, headers=auth["editor_a"]
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    assert client.get(url, headers=auth["editor_a"]).json()["wbc"] == 12.0
    _, database = registry
    with database.read_sessions() as s:
        rows = s.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_id == p["registry_id"], AuditEntry.action == "update"
            )
        ).all()
    assert [(r.old["wbc"], r.new["wbc"], r.reason) for r in rows] == [
        (320.5, 12.0, "typo in the lab report")
    ]


def test_void_keeps_the_record(client: Any, auth: dict[str, dict[str, str]], registry: Any) -> None:
    p = create(client, auth["editor_a"])
    url = f"{API}/patients/{p['registry_id']}"
    r = client.post(
        f"{url}/void", json={"version": 1, "reason": "registered twice"}, headers=auth["editor_a"]
    )
    assert r.status_code == 200
    assert r.json()["void_reason"] == "registered twice"
    assert client.get(f"{API}/patients", headers=auth["editor_a"]).json()["total"] == 0
    listed = client.get(
        f"{API}/patients", params={"include_voided": True}, headers=auth["editor_a"]
    )
    assert listed.json()["total"] == 1
    _, database = registry
    with database.read_sessions() as s:
        assert s.scalar(select(Patient.voided_at).where(Patient.registry_id == p["registry_id"]))
    history = client.get(f"{url}/history", headers=auth["viewer_a"]).json()
    assert [h["action"] for h in history] == ["create", "void"]


def test_duplicate_local_code_is_409_at_the_same_site_only(
    client: Any, auth: dict[str, dict[str, str]]
) -> None:
    create(client, auth["editor_a"], code="X-1")
    r = client.post(f"{API}/patients", json=new_patient("X-1"), headers=auth["editor_a"])
    assert r.status_code == 409
    assert r.json()["code"] == "duplicate_patient"
    create(client, auth["editor_b"], code="X-1")


def test_other_site_is_exactly_like_a_missing_id(
    client: Any, auth: dict[str, dict[str, str]], registry: Any
) -> None:
    p = create(client, auth["editor_a"])
    other = client.get(f"{API}/patients/{p['registry_id']}", headers=auth["viewer_b"])
    missing = client.get(f"{API}/patients/P-0000000000000000", headers=auth["viewer_b"])
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content
    assert other.headers["content-type"] == missing.headers["content-type"]
    _, database = registry
    with database.read_sessions() as s:
        denied = s.scalars(select(AuditEntry).where(AuditEntry.action == "access_denied")).all()
    assert [(d.actor_username, d.entity_id) for d in denied] == [("viewer_b", p["registry_id"])]
