"""A coordinator reads the pooled view only (issue 14), on SQLite and PostgreSQL: every
patient-level read with identifying values answers 403 ``pooled_only`` (problem details,
nothing of the record in the body), while the pooled, pseudonymised outputs, the signature
state and the unlock by registry id still answer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from infantall.domain import LastContact
from infantall.registry import patients as patient_service
from infantall.registry.events import add_event
from infantall.registry.schemas import PatientCreate

API = "/api/v1"
CODE = "POOLED-ONLY-001"


def _patient(registry: Any, seeded: dict[str, Any]) -> str:
    _, database = registry
    with database.write_sessions() as s:
        p = patient_service.create_patient(s, seeded["editor_a"], PatientCreate(
            local_code=CODE, birth_date=dt.date(2024, 1, 1), diagnosis_date=dt.date(2024, 3, 1),
            notes="seen at the harbour clinic",
        ))  # fmt: skip
        add_event(s, seeded["editor_a"], p.registry_id, LastContact(date=dt.date(2025, 1, 1)))
    return p.registry_id


def test_coordinators_get_no_patient_level_record(
    client: Any, auth: dict[str, dict[str, str]], registry: Any, seeded: dict[str, Any]
) -> None:
    pid = _patient(registry, seeded)
    refused = (
        "/patients",
        f"/patients?local_code={CODE}",
        f"/patients/{pid}",
        f"/patients/{pid}/events",
        f"/patients/{pid}/history",
        f"/patients/{pid}/risk-groups",
        "/export",
        "/export?format=parquet",
    )
    for path in refused:
        r = client.get(API + path, headers=auth["coord"])
        assert r.status_code == 403, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "pooled_only", path
        assert CODE not in r.text and "harbour" not in r.text
        # a site reader of the patient's site still reads it
        assert client.get(API + path, headers=auth["viewer_a"]).status_code == 200, path


def test_coordinators_keep_the_pooled_outputs_and_the_unlock(
    client: Any, auth: dict[str, dict[str, str]], registry: Any, seeded: dict[str, Any]
) -> None:
    pid = _patient(registry, seeded)
    h = auth["coord"]
    for path in ("/export/pooled?k=1", "/export/pooled/manifest?k=1", "/analysis/dataset",
                 "/quality", f"/patients/{pid}/signatures"):  # fmt: skip
        r = client.get(API + path, headers=h)
        assert r.status_code == 200, (path, r.text)
        assert CODE not in r.text and "harbour" not in r.text, path
    assert "2024-03-01" not in client.get(f"{API}/export/pooled?k=1", headers=h).text
    # The record's content digest is the site's to see: a coordinator's view of the record
    # (no local code or notes) would give another digest, so it gets none.
    state = client.get(f"{API}/patients/{pid}/signatures", headers=h).json()
    site = client.get(f"{API}/patients/{pid}/signatures", headers=auth["viewer_a"]).json()
    assert state["content_digest"] is None and len(site["content_digest"]) == 64
    not_locked = client.post(f"{API}/patients/{pid}/unlock", json={"reason": "r"}, headers=h)
    assert not_locked.status_code == 409 and not_locked.json()["code"] == "not_locked"


def test_openapi_documents_pooled_only(app: Any) -> None:
    paths = app.openapi()["paths"]
    for path in ("/patients", "/patients/{patient_id}", "/patients/{patient_id}/events",
                 "/patients/{patient_id}/history", "/export"):  # fmt: skip
        forbidden = paths[API + path]["get"]["responses"]["403"]
        assert "application/problem+json" in forbidden["content"], path
    assert (
        "pooled_only"
        in paths[API + "/patients/{patient_id}"]["get"]["responses"]["403"]["description"]
    )
