"""Bad inputs from anchors-reliability.md (B1-B8): each answers 4xx with a clear message
and changes nothing; injection strings are stored inertly and read back verbatim."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_api_patients import API, create, new_patient

from infantall.registry.audit import current_state

H = dict[str, dict[str, str]]

#: (case id, body changes, status, code) for POST /patients.
PATIENT_CASES = [
    ("impossible date", {"birth_date": "2024-02-30"}, 422, "invalid_type"),
    # pydantic's lax mode took these as seconds since 1970: a patient born 1970-01-02 and
    # diagnosed 1970-04-11 was stored (both dates valid, the infant 99 days old)
    (
        "dates as seconds since 1970",
        {"birth_date": "86400", "diagnosis_date": "8640000"},
        422,
        "invalid_type",
    ),
    ("date as a JSON number", {"birth_date": 0}, 422, "invalid_type"),
    ("day/month order", {"birth_date": "05/01/2024"}, 422, "invalid_type"),
    ("date with a time", {"diagnosis_date": "2024-03-01T00:00:00"}, 422, "invalid_type"),
    ("diagnosis before birth", {"diagnosis_date": "2024-01-01"}, 422, "diagnosis_before_birth"),
    ("age above 365 days", {"birth_date": "2023-01-01"}, 422, "not_an_infant"),
    ("negative WBC", {"wbc": -1}, 422, "negative_wbc"),
    ("WBC typed in cells/uL", {"wbc": 1_100_000}, 422, "wbc_too_high"),
    ("unknown enum", {"kmt2a": "MLL+"}, 422, "invalid_choice"),
    ("enum with trailing space", {"sex": "female "}, 422, "invalid_choice"),
    ("server-owned field", {"site_id": 2}, 422, "unknown_field"),
    ("zero-width in code", {"local_code": "A\u200b001"}, 422, "invalid_code"),
    ("bidi override in code", {"local_code": "A\u202e001"}, 422, "invalid_code"),
    ("Cyrillic homoglyph in code", {"local_code": "\u0410-001"}, 422, "invalid_code"),
    ("full-width digits in code", {"local_code": "A-\uff10\uff11"}, 422, "invalid_code"),
    ("SQL in code", {"local_code": "1;DROP TABLE patients"}, 422, "invalid_code"),
    ("bidi override in notes", {"notes": "ok \u202e evil"}, 422, "forbidden_character"),
    ("control character in notes", {"notes": "bell \u0007"}, 422, "forbidden_character"),
    ("huge notes", {"notes": "x" * 5000}, 422, "too_long"),
    ("number as text", {"wbc": "12,5"}, 422, "invalid_type"),
    ("boolean as number", {"wbc": True}, 422, "invalid_type"),
    ("fusion partner with germline", {"kmt2a": "germline"}, 422, "fusion_partner_mismatch"),
]

#: (case id, raw body, content type, status, code).
RAW_CASES = [
    ("NaN is not JSON", b'{"wbc": NaN}', "application/json", 400, "malformed_json"),
    ("duplicate keys", b'{"wbc": 5, "wbc": 500}', "application/json", 400, "duplicate_key"),
    ("trailing garbage", b'{"a": 1}xyz', "application/json", 400, "malformed_json"),
    ("deep nesting", b"[" * 5000 + b"]" * 5000, "application/json", 400, "too_deep"),
    ("invalid UTF-8", b'{"notes": "\xc3\x28"}', "application/json", 400, "invalid_encoding"),
    ("lone surrogate", b'{"notes": "\\ud800"}', "application/json", 400, "invalid_encoding"),
    ("NUL character", b'{"notes": "a\\u0000b"}', "application/json", 400, "invalid_character"),
    ("wrong media type", b"local_code=A", "text/plain", 415, "unsupported_media_type"),
    (
        "oversize body",
        b'{"notes": "' + b"x" * 1_100_000 + b'"}',
        "application/json",
        413,
        "body_too_large",
    ),
]


def _state(registry: Any) -> Any:
    _, database = registry
    with database.read_sessions() as s:
        return current_state(s)


def test_patient_bad_inputs(client: Any, auth: H, registry: Any) -> None:
    before = _state(registry)
    for case, changes, status, code in PATIENT_CASES:
        r = client.post(f"{API}/patients", json=new_patient(**changes), headers=auth["editor_a"])
        assert r.status_code == status, (case, r.text)
        body = r.json()
        assert code in {e["code"] for e in body["errors"]}, (case, body)
        assert body["detail"] and "Traceback" not in r.text, case
    for case, raw, media, status, code in RAW_CASES:
        r = client.post(
            f"{API}/patients", content=raw, headers={**auth["editor_a"], "Content-Type": media}
        )
        assert (r.status_code, r.json()["code"]) == (status, code), case
    assert _state(registry) == before


@pytest.mark.parametrize(
    "url",
    [
        "/patients/abc",
        "/patients/-1",
        "/patients/99999999999999999999",
        "/patients/..%2F1",
        "/patients/1;DROP",
        "/patients/%00",
    ],
)
def test_malformed_ids_are_4xx(client: Any, auth: H, url: str) -> None:
    r = client.get(API + url, headers=auth["viewer_a"])
    assert r.status_code in (404, 422)


def test_duplicate_and_stale_and_pagination_abuse(client: Any, auth: H, registry: Any) -> None:
    p = create(client, auth["editor_a"])
    before = _state(registry)
    assert (
        client.post(f"{API}/patients", json=new_patient(), headers=auth["editor_a"]).status_code
        == 409
    )
    assert (
        client.get(
            f"{API}/patients", params={"limit": 1_000_000}, headers=auth["viewer_a"]
        ).status_code
        == 422
    )
    assert (
        client.get(f"{API}/patients", params={"offset": -1}, headers=auth["viewer_a"]).status_code
        == 422
    )
    assert (
        client.get(
            f"{API}/patients", params={"sort": "id; DROP"}, headers=auth["viewer_a"]
        ).status_code
        == 200
    )
    capped = client.get(
        f"{API}/patients", params={"limit": 10_000}, headers=auth["viewer_a"]
    ).json()
    assert capped["limit"] == 500
    assert (
        client.get(
            f"{API}/patients", params={"local_code": "%"}, headers=auth["viewer_a"]
        ).status_code
        == 422
    )
    r = client.patch(
        f"{API}/patients/{p['registry_id']}",
        json={"version": 1, "reason": "r", "birth_date": None},
        headers=auth["editor_a"],
    )
    assert r.status_code == 422  # a date cannot be emptied (a choice can: "not entered")
    epoch = client.get(f"{API}/patients", params={"diagnosed_to": 0}, headers=auth["viewer_a"])
    assert epoch.status_code == 422  # not read as 1970-01-01
    blank = client.patch(
        f"{API}/patients/{p['registry_id']}",
        json={"version": 1, "reason": "", "wbc": 12},
        headers=auth["editor_a"],
    )
    assert blank.status_code == 422
    assert ("reason", "reason_required") in {
        (e["field"], e["code"]) for e in blank.json()["errors"]
    }
    assert (
        client.put(
            f"{API}/patients/{p['registry_id']}", json={}, headers=auth["editor_a"]
        ).status_code
        == 405
    )
    assert (
        client.delete(f"{API}/patients/{p['registry_id']}", headers=auth["editor_a"]).status_code
        == 405
    )
    assert _state(registry) == before


@pytest.mark.parametrize(
    "text",
    [
        "' OR '1'='1",
        "1; DROP TABLE patients;--",
        "') UNION SELECT password_hash FROM users --",
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "{{7*7}} ${7*7}",
        "admin\r\n2025-01-01 LOGIN OK user=root".replace("\r", ""),
        "héllo",
        "e\u0301",
    ],
)
def test_injection_strings_are_stored_inertly(client: Any, auth: H, text: str) -> None:
    p = create(client, auth["editor_a"], notes=text)
    got = client.get(f"{API}/patients/{p['registry_id']}", headers=auth["editor_a"]).json()
    import unicodedata

    assert got["notes"] == unicodedata.normalize("NFC", text)
    assert client.get(f"{API}/patients", headers=auth["editor_a"]).json()["total"] == 1
    assert (
        json.loads(client.get(f"{API}/patients", headers=auth["editor_a"]).text)["items"][0][
            "notes"
        ]
        == got["notes"]
    )
