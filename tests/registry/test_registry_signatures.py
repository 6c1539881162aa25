"""E-signatures and record locking (issue 14; 21 CFR Part 11 §11.50, §11.70, §11.200), on
SQLite and PostgreSQL: signing needs the signer's password again, the manifestation names
the signer, the UTC time and the meaning and is bound to a digest of the record's content,
a signed patient refuses every change with ``record_locked`` until an unlock with a reason,
and ``registry verify`` stays ok (and catches content changed under a signature)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from infantall.domain import LastContact
from infantall.registry import audit
from infantall.registry.errors import ConflictError, NotFoundError, PermissionDeniedError
from infantall.registry.events import add_event, correct_event, void_event
from infantall.registry.models import AuditEntry, Patient, Role, Signature, User, utcnow
from infantall.registry.patients import create_patient, update_patient, void_patient
from infantall.registry.schemas import EventCorrect, PatientCreate, PatientUpdate, VoidRequest
from infantall.registry.security import password_hasher
from infantall.registry.signatures import (
    SignRequest,
    UnlockRequest,
    content_digest,
    sign_patient,
    signature_problems,
    signature_state,
    unlock_patient,
)
from infantall.registry.testing import SEED_PASSWORD
from infantall.registry.verify import verify_registry
from infantall.services.risk_groups import compute_risk_groups

from .concurrency import in_threads

MEANING = "reviewed and approved"


def _patient(database: Any, editor: Any, code: str = "SIG-1") -> tuple[str, str]:
    with database.write_sessions() as s:
        p = create_patient(
            s,
            editor,
            PatientCreate(
                local_code=code, birth_date=dt.date(2024, 1, 1), diagnosis_date=dt.date(2024, 3, 1)
            ),
        )
        e = add_event(s, editor, p.registry_id, LastContact(date=dt.date(2024, 12, 1)))
    return p.registry_id, e.registry_id


def _sign(registry: Any, who: Any, rid: str, password: str = SEED_PASSWORD, **kw: Any) -> Any:
    settings, database = registry
    with database.write_sessions() as s:
        return sign_patient(
            s,
            settings,
            password_hasher(settings),
            who,
            rid,
            SignRequest(password=password, meaning=kw.pop("meaning", MEANING), **kw),
        )


def _unlock(database: Any, who: Any, rid: str, reason: str = "late lab result") -> Any:
    with database.write_sessions() as s:
        return unlock_patient(s, who, rid, UnlockRequest(reason=reason))


def _count(database: Any, model: Any, *where: Any) -> int:
    with database.read_sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_wrong_password_signs_nothing_and_is_audited(registry: Any, seeded: Any) -> None:
    _, database = registry
    rid, _ = _patient(database, seeded["editor_a"])
    with pytest.raises(PermissionDeniedError) as caught:
        _sign(registry, seeded["inv_a"], rid, password="not-my-password")
    assert caught.value.code == "signature_refused"
    assert _count(database, Signature) == 0
    assert _count(database, AuditEntry, AuditEntry.action == "sign_refused") == 1
    # counted like a failed login (towards the lockout)
    with database.read_sessions() as s:
        inv = s.scalar(select(User).where(User.username == "inv_a"))
        assert inv is not None and inv.failed_logins == 1
    with database.write_sessions() as s:  # not locked: the editor still changes it
        update_patient(s, seeded["editor_a"], rid, PatientUpdate(version=1, reason="r", wbc=5))


def test_only_an_investigator_of_the_site_signs(registry: Any, seeded: Any) -> None:
    _, database = registry
    rid, _ = _patient(database, seeded["editor_a"])
    for role in ("editor_a", "viewer_a", "coord", "admin"):
        with pytest.raises(PermissionDeniedError):
            _sign(registry, seeded[role], rid)
    with pytest.raises(NotFoundError):
        _sign(registry, seeded["inv_b"], rid)
    assert _count(database, Signature) == 0


def test_manifestation_names_signer_time_and_meaning_bound_to_content(
    registry: Any, seeded: Any
) -> None:
    _, database = registry
    rid, _ = _patient(database, seeded["editor_a"])
    with database.write_sessions() as s:
        s.execute(text("UPDATE users SET full_name = 'Dr Ada Lovelace' WHERE username = 'inv_a'"))
        s.commit()
    before = utcnow()
    signed = _sign(registry, seeded["inv_a"], rid, meaning="author")
    after = utcnow()
    assert signed.printed_name == "Dr Ada Lovelace"
    assert signed.username == "inv_a"
    assert signed.meaning == "author"
    assert before <= signed.signed_at <= after and signed.signed_at.utcoffset() == dt.timedelta(0)
    when = signed.signed_at.strftime("%Y-%m-%d %H:%M:%S")
    assert signed.manifestation == (
        f"Signed electronically by Dr Ada Lovelace (inv_a) on {when} UTC; meaning: author"
    )
    with database.read_sessions() as s:
        patient = s.scalar(select(Patient).where(Patient.registry_id == rid))
        assert patient is not None
        # The digest is the SHA-256 of the canonical content, recomputed independently.
        events = [audit.snapshot("event", e) for e in s.scalars(select(audit.Event).order_by("id"))]
        content = {"patient": audit.snapshot("patient", patient), "events": events}
        content["risk_groups"] = []
        canonical = json.dumps(
            json.loads(json.dumps(content, sort_keys=True, default=str)),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        assert signed.content_digest == hashlib.sha256(canonical.encode()).hexdigest()
        assert content_digest(s, patient) == signed.content_digest
        row = s.scalar(select(AuditEntry).where(AuditEntry.action == "sign"))
        assert row is not None and row.entity_id == rid and row.actor_username == "inv_a"
        assert row.new is not None and row.new["manifestation"] == signed.manifestation
        assert row.new["content_digest"] == signed.content_digest
    state = _state(database, seeded["viewer_a"], rid)
    assert state.locked and [x.status for x in state.signatures] == ["active"]


def _state(database: Any, who: Any, rid: str) -> Any:
    with database.read_sessions() as s:
        return signature_state(s, who, rid)


def _changes(seeded: Any, rid: str, eid: str) -> dict[str, Callable[[Any], Any]]:
    editor = seeded["editor_a"]
    fix = EventCorrect(version=1, reason="typo", event=LastContact(date=dt.date(2025, 1, 2)))
    return {
        "patient edit": lambda s: update_patient(
            s, editor, rid, PatientUpdate(version=1, reason="r", wbc=7)
        ),
        "patient void": lambda s: void_patient(s, editor, rid, VoidRequest(version=1, reason="r")),
        "new event": lambda s: add_event(s, editor, rid, LastContact(date=dt.date(2025, 3, 1))),
        "event correction": lambda s: correct_event(s, editor, rid, eid, fix),
        "event void": lambda s: void_event(s, editor, rid, eid, VoidRequest(version=1, reason="r")),
        "risk groups": lambda s: compute_risk_groups(s, editor, rid, ["interfant-06"]),
    }


def test_a_locked_record_refuses_every_kind_of_change(registry: Any, seeded: Any) -> None:
    _, database = registry
    rid, eid = _patient(database, seeded["editor_a"])
    _sign(registry, seeded["inv_a"], rid)
    with database.read_sessions() as s:
        before = audit.current_state(s)
    for name, change in _changes(seeded, rid, eid).items():
        with database.write_sessions() as s, pytest.raises(ConflictError) as caught:
            change(s)
        assert caught.value.code == "record_locked", name
        assert caught.value.status == 409
    with database.read_sessions() as s:
        assert audit.current_state(s) == before
    # after an unlock every one of them goes through again
    _unlock(database, seeded["inv_a"], rid)
    changes = _changes(seeded, rid, eid)
    for name in ("patient edit", "event correction", "new event", "risk groups"):
        with database.write_sessions() as s:
            changes[name](s)


def test_unlock_needs_a_reason_is_audited_and_keeps_the_signature(
    registry: Any, seeded: Any
) -> None:
    _, database = registry
    rid, _ = _patient(database, seeded["editor_a"])
    first = _sign(registry, seeded["inv_a"], rid)
    for blank in ("", "   "):
        with pytest.raises(ValidationError):
            UnlockRequest(reason=blank)
    for who in ("editor_a", "viewer_a", "admin"):
        with database.write_sessions() as s, pytest.raises(PermissionDeniedError):
            unlock_patient(s, seeded[who], rid, UnlockRequest(reason="r"))
    with database.write_sessions() as s, pytest.raises(NotFoundError):
        unlock_patient(s, seeded["inv_b"], rid, UnlockRequest(reason="r"))
    state = _unlock(database, seeded["coord"], rid, "new relapse report")  # any site
    assert not state.locked
    (sig,) = state.signatures
    assert sig.registry_id == first.registry_id and sig.status == "superseded"
    assert sig.superseded_by == state.unlocks[0].registry_id
    assert state.unlocks[0].reason == "new relapse report"
    assert state.unlocks[0].username == "coord"
    with database.read_sessions() as s:
        row = s.scalar(select(AuditEntry).where(AuditEntry.action == "record_unlock"))
        assert row is not None and row.reason == "new relapse report"
        assert row.old == {"locked": True, "signatures": [first.registry_id]}
    with database.write_sessions() as s, pytest.raises(ConflictError) as caught:
        unlock_patient(s, seeded["inv_a"], rid, UnlockRequest(reason="again"))
    assert caught.value.code == "not_locked"
    # a new signature locks it again; the old one stays superseded
    second = _sign(registry, seeded["inv_a"], rid)
    state = _state(database, seeded["inv_a"], rid)
    assert state.locked
    assert [(x.registry_id, x.status) for x in state.signatures] == [
        (first.registry_id, "superseded"),
        (second.registry_id, "active"),
    ]


def test_stale_content_is_not_signed(registry: Any, seeded: Any) -> None:
    _, database = registry
    rid, _ = _patient(database, seeded["editor_a"])
    seen = _state(database, seeded["inv_a"], rid).content_digest
    with database.write_sessions() as s:
        update_patient(s, seeded["editor_a"], rid, PatientUpdate(version=1, reason="r", wbc=9))
    with pytest.raises(ConflictError) as caught:
        _sign(registry, seeded["inv_a"], rid, content_digest=seen)
    assert caught.value.code == "stale_content"
    assert _count(database, Signature) == 0
    now = _state(database, seeded["inv_a"], rid).content_digest
    assert now != seen
    assert _sign(registry, seeded["inv_a"], rid, content_digest=now).content_digest == now


def test_registry_verify_ok_after_sign_and_unlock_and_catches_signed_content_changed(
    registry: Any, seeded: Any
) -> None:
    _, database = registry
    rid, _ = _patient(database, seeded["editor_a"])
    _sign(registry, seeded["inv_a"], rid)
    _unlock(database, seeded["inv_a"], rid)
    with database.write_sessions() as s:
        update_patient(s, seeded["editor_a"], rid, PatientUpdate(version=1, reason="r", wbc=3))
    signed = _sign(registry, seeded["inv_a"], rid)
    report = verify_registry(database)
    assert report.ok, report.problems
    assert report.as_record()["signatures"] == "ok"
    # A change behind the application's back (raw SQL) breaks the signed content.
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE patients SET wbc = 99 WHERE registry_id = :r"), {"r": rid})
    report = verify_registry(database)
    found = [p for p in report.problems if p["check"] == "signatures"]
    assert [(p["kind"], p["id"]) for p in found] == [("signed_content_changed", signed.registry_id)]


def test_signature_tables_are_append_only(registry: Any, seeded: Any) -> None:
    _, database = registry
    rid, _ = _patient(database, seeded["editor_a"])
    _sign(registry, seeded["inv_a"], rid)
    _unlock(database, seeded["inv_a"], rid)
    for statement in (
        "UPDATE signatures SET meaning = 'author'",
        "DELETE FROM signatures",
        "UPDATE signature_unlocks SET reason = 'forged'",
        "DELETE FROM signature_unlocks",
    ):
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
            conn.execute(text(statement))


def test_the_investigator_reads_its_site_only_and_never_edits(registry: Any, seeded: Any) -> None:
    _, database = registry
    rid, _ = _patient(database, seeded["editor_a"])
    inv = seeded["inv_a"]
    assert inv.role is Role.investigator
    with database.write_sessions() as s, pytest.raises(PermissionDeniedError):
        update_patient(s, inv, rid, PatientUpdate(version=1, reason="r", wbc=5))
    with database.read_sessions() as s, pytest.raises(NotFoundError):
        signature_state(s, seeded["inv_b"], rid)


def test_a_signature_and_concurrent_changes_never_interleave(registry: Any, seeded: Any) -> None:
    """One signing and several new events sent at once (own connections, released by a
    barrier): every event is stored before the signature (and is part of the signed content)
    or refused with ``record_locked``; the signature matches the stored content."""
    settings, database = registry
    rid, _ = _patient(database, seeded["editor_a"])
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def send(i: int) -> None:
        with database.write_sessions() as s:
            barrier.wait()
            try:
                if i == 0:
                    request = SignRequest(password=SEED_PASSWORD, meaning=MEANING)
                    hasher = password_hasher(settings)
                    sign_patient(s, settings, hasher, seeded["inv_a"], rid, request)
                    outcomes.append("signed")
                else:
                    day = dt.date(2025, 1, i)
                    add_event(s, seeded["editor_a"], rid, LastContact(date=day))
                    outcomes.append("added")
            except ConflictError as exc:
                outcomes.append(exc.code)

    unexpected = in_threads(send, 5)
    assert not unexpected, unexpected
    assert set(outcomes) <= {"added", "record_locked", "signed"}
    assert outcomes.count("signed") == 1 and len(outcomes) == 5
    with database.read_sessions() as s:
        assert signature_problems(s) == []
        added = outcomes.count("added")
        assert _count(database, audit.Event) == 1 + added
