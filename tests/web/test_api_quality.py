"""``GET /api/v1/quality``: the data-quality queries of the caller's scope, the same result
as :func:`infantall.domain.quality.check_quality` on the caller's histories."""

from __future__ import annotations

import datetime as dt
from typing import Any

from infantall.domain import LastContact
from infantall.domain.quality import QUALITY_QUERIES, check_quality
from infantall.registry import events as event_service
from infantall.registry import patients as patient_service
from infantall.registry.export import pseudonym
from infantall.registry.schemas import PatientCreate
from infantall.services.datasets import scoped_histories

API = "/api/v1"
AS_OF = dt.date(2026, 1, 1)
H = dict[str, dict[str, str]]


def _patient(database: Any, editor: Any, code: str, kmt2a: str, last: dt.date) -> str:
    with database.write_sessions() as s:
        p = patient_service.create_patient(
            s,
            editor,
            PatientCreate(
                local_code=code,
                birth_date=dt.date(2024, 1, 1),
                diagnosis_date=dt.date(2024, 3, 1),
                kmt2a=kmt2a,
            ),
        )
        event_service.add_event(s, editor, p.registry_id, LastContact(date=last))
    return p.registry_id


def _two_sites(registry: Any, seeded: dict[str, Any]) -> dict[str, str]:
    """SITE-A: one patient with unknown KMT2A; SITE-B: one clean, one overdue (by AS_OF)."""
    _, database = registry
    return {
        "a_unknown": _patient(database, seeded["editor_a"], "A-1", "unknown", dt.date(2025, 12, 1)),
        "b_clean": _patient(
            database, seeded["editor_b"], "B-1", "rearranged", dt.date(2025, 12, 1)
        ),
        "b_overdue": _patient(database, seeded["editor_b"], "B-2", "germline", dt.date(2024, 6, 1)),
    }


def test_a_site_sees_its_own_findings_with_registry_ids(
    client: Any, auth: H, registry: Any, seeded: dict[str, Any]
) -> None:
    ids = _two_sites(registry, seeded)
    r = client.get(f"{API}/quality", params={"as_of": AS_OF.isoformat()}, headers=auth["viewer_a"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["as_of"] == "2026-01-01"
    assert body["patients"] == 1
    assert [(f["query"], f["patient_id"]) for f in body["findings"]] == [
        ("missing_kmt2a", ids["a_unknown"])
    ]
    assert [q["query"] for q in body["queries"]] == list(QUALITY_QUERIES)
    counts = {q["query"]: q["records"] for q in body["queries"]}
    assert counts["missing_kmt2a"] == 1 and sum(counts.values()) == 1


def test_a_coordinator_sees_every_site_pseudonymised(
    client: Any, auth: H, registry: Any, seeded: dict[str, Any]
) -> None:
    settings, database = registry
    ids = _two_sites(registry, seeded)
    key = settings.pseudonym_key.get_secret_value()
    r = client.get(f"{API}/quality", params={"as_of": AS_OF.isoformat()}, headers=auth["coord"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["patients"] == 3
    found = {(f["query"], f["site"], f["patient_id"]) for f in body["findings"]}
    assert found == {
        ("missing_kmt2a", "SITE-A", pseudonym(key, ids["a_unknown"])),
        ("follow_up_overdue", "SITE-B", pseudonym(key, ids["b_overdue"])),
    }
    assert not any(rid in r.text for rid in ids.values())
    # the route only formats the domain's one result on the caller's histories
    with database.read_sessions() as s:
        expected = check_quality(scoped_histories(s, seeded["coord"], key), AS_OF)
    assert body == expected.to_dict()


def test_overdue_days_and_as_of_move_the_follow_up_query(
    client: Any, auth: H, registry: Any, seeded: dict[str, Any]
) -> None:
    _two_sites(registry, seeded)

    def overdue(**params: Any) -> int:
        r = client.get(f"{API}/quality", params=params, headers=auth["viewer_b"])
        assert r.status_code == 200, r.text
        return sum(f["query"] == "follow_up_overdue" for f in r.json()["findings"])

    assert overdue(as_of="2026-01-01") == 1
    assert overdue(as_of="2026-01-01", overdue_days=1000) == 0
    assert overdue(as_of="2025-01-01") == 0
    assert overdue(as_of="2026-12-31", overdue_days=30) == 2


def test_admins_read_no_patient_data_and_bad_parameters_are_refused(client: Any, auth: H) -> None:
    assert client.get(f"{API}/quality", headers=auth["admin"]).status_code == 403
    assert (
        client.get(f"{API}/quality", params={"overdue_days": 0}, headers=auth["coord"]).status_code
        == 422
    )
    assert (
        client.get(
            f"{API}/quality", params={"as_of": "2026-13-01"}, headers=auth["coord"]
        ).status_code
        == 422
    )
    assert client.get(f"{API}/quality").status_code == 401
