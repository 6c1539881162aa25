"""Events through the API: add, correct with a reason, void; the whole history is validated
by the domain model and a rejected write changes nothing."""

from __future__ import annotations

from typing import Any

from test_api_patients import API, create

H = dict[str, dict[str, str]]


def _events(client: Any, auth: H, pid: str, **params: Any) -> list[dict[str, Any]]:
    r = client.get(f"{API}/patients/{pid}/events", params=params, headers=auth["viewer_a"])
    assert r.status_code == 200
    return list(r.json())


def test_add_correct_void_event(client: Any, auth: H) -> None:
    pid = create(client, auth["editor_a"])["registry_id"]
    url = f"{API}/patients/{pid}/events"
    r = client.post(
        url,
        json={"kind": "response", "date": "2024-07-20", "status": "cr", "marrow": "M1"},
        headers=auth["editor_a"],
    )
    assert r.status_code == 201, r.text
    event = r.json()
    assert event["data"] == {
        "kind": "response",
        "date": "2024-07-20",
        "status": "cr",
        "marrow": "M1",
    }
    mrd = client.post(
        url,
        json={"kind": "mrd", "date": "2024-07-20", "value": 1e-4, "time_point": "end_of_induction"},
        headers=auth["editor_a"],
    ).json()
    corrected = client.patch(
        f"{url}/{mrd['registry_id']}",
        json={
            "version": 1,
            "reason": "lab re-issued the report",
            "event": {
                "kind": "mrd",
                "date": "2024-07-21",
                "value": 5e-4,
                "time_point": "end_of_induction",
            },
        },
        headers=auth["editor_a"],
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["data"]["value"] == 5e-4
    assert corrected.json()["version"] == 2
    voided = client.post(
        f"{url}/{event['registry_id']}/void",
        json={"version": 1, "reason": "wrong patient"},
        headers=auth["editor_a"],
    )
    assert voided.status_code == 200
    assert [e["kind"] for e in _events(client, auth, pid)] == ["mrd"]
    assert len(_events(client, auth, pid, include_voided=True)) == 2
    history = client.get(f"{API}/patients/{pid}/history", headers=auth["editor_a"]).json()
    assert [(h["entity"], h["action"]) for h in history] == [
        ("patient", "create"),
        ("event", "create"),
        ("event", "create"),
        ("event", "correct"),
        ("event", "void"),
    ]
    assert history[3]["old"]["data"]["value"] == 1e-4
    assert history[3]["reason"] == "lab re-issued the report"


def test_domain_rejects_impossible_histories_and_nothing_changes(client: Any, auth: H) -> None:
    pid = create(client, auth["editor_a"])["registry_id"]
    url = f"{API}/patients/{pid}/events"
    before = client.post(
        url, json={"kind": "relapse", "date": "2024-01-01"}, headers=auth["editor_a"]
    )
    assert before.status_code == 422
    assert before.json()["errors"] == [
        {
            "field": "date",
            "reason": "relapse on 2024-01-01 is before diagnosis on 2024-06-15",
            "code": "event_before_diagnosis",
        }
    ]
    assert (
        client.post(
            url,
            json={"kind": "death", "date": "2024-09-01", "cause": "leukemia"},
            headers=auth["editor_a"],
        ).status_code
        == 201
    )
    after_death = client.post(
        url,
        json={"kind": "hsct", "date": "2024-10-01", "donor": "unrelated"},
        headers=auth["editor_a"],
    )
    assert after_death.status_code == 422
    assert after_death.json()["code"] == "events_out_of_order"
    second = client.post(
        url, json={"kind": "death", "date": "2024-09-02"}, headers=auth["editor_a"]
    )
    assert second.json()["code"] == "multiple_deaths"
    bad_hla = client.post(
        url,
        json={"kind": "hsct", "date": "2024-08-01", "hla_match": "7/6"},
        headers=auth["editor_a"],
    )
    assert bad_hla.status_code == 422
    assert bad_hla.json()["errors"][0]["code"] == "invalid_hla_match"
    unknown = client.post(
        url, json={"kind": "vacation", "date": "2024-08-01"}, headers=auth["editor_a"]
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "invalid_choice"
    assert [e["kind"] for e in _events(client, auth, pid)] == ["death"]
    moved = client.patch(
        f"{API}/patients/{pid}",
        json={"version": 1, "reason": "r", "diagnosis_date": "2024-09-10"},
        headers=auth["editor_a"],
    )
    assert moved.status_code == 422
    assert moved.json()["errors"][0]["code"] == "event_before_diagnosis"
    assert (
        client.get(f"{API}/patients/{pid}", headers=auth["editor_a"]).json()["diagnosis_date"]
        == "2024-06-15"
    )


def test_correction_cannot_change_kind_and_stale_is_409(client: Any, auth: H) -> None:
    pid = create(client, auth["editor_a"])["registry_id"]
    url = f"{API}/patients/{pid}/events"
    e = client.post(
        url, json={"kind": "last_contact", "date": "2025-01-01"}, headers=auth["editor_a"]
    ).json()
    body = {"version": 1, "reason": "r", "event": {"kind": "death", "date": "2025-01-01"}}
    r = client.patch(f"{url}/{e['registry_id']}", json=body, headers=auth["editor_a"])
    assert r.status_code == 409
    assert r.json()["code"] == "kind_change"
    body["event"] = {"kind": "last_contact", "date": "2025-02-01"}
    assert (
        client.patch(f"{url}/{e['registry_id']}", json=body, headers=auth["editor_a"]).status_code
        == 200
    )
    stale = client.patch(f"{url}/{e['registry_id']}", json=body, headers=auth["editor_a"])
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"


def test_risk_groups_are_computed_and_stored_with_the_protocol_version(
    client: Any, auth: H
) -> None:
    from infantall.protocols import PROTOCOLS, stratify

    p = create(client, auth["editor_a"])
    url = f"{API}/patients/{p['registry_id']}/risk-groups"
    r = client.post(url, json={"protocols": ["interfant-06"]}, headers=auth["editor_a"])
    assert r.status_code == 201, r.text
    (stored,) = r.json()
    expected = stratify(
        {
            "patient_id": "x",
            "age_days": 106,
            "wbc": 320.5,
            "kmt2a": "rearranged",
            "fusion_partner": "AFF1",
            "immunophenotype": "pro_b",
            "cd10": "negative",
            "day8_blasts": 2500,
            "sex": "female",
        },
        "interfant-06",
    )
    assert stored["risk_group"] == expected.group == "HR"
    assert stored["protocol_version"] == PROTOCOLS["interfant-06"].version
    assert (
        client.post(url, json={"protocols": ["interfant-77"]}, headers=auth["editor_a"]).status_code
        == 422
    )
    assert client.post(url, json={}, headers=auth["viewer_a"]).status_code == 403
    listed = client.get(url, headers=auth["viewer_a"]).json()
    assert [x["protocol"] for x in listed] == ["interfant-06"]
