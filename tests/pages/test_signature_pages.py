"""The e-signature card of the patient page (issue 14): an investigator signs with the
password again, the page then shows the signed/locked banner and the manifestation, the
editor's correction links disappear and a forged correction is refused, and an unlock with
a reason keeps the signature as superseded."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from infantall.registry.testing import SEED_PASSWORD
from pages.conftest import post_form

Login = Callable[[str], TestClient]
PATIENT = {
    "local_code": "SIGN-001",
    "birth_date": "2024-01-10",
    "diagnosis_date": "2024-05-01",
    "kmt2a": "rearranged",
    "fusion_partner": "AFF1",
}


def _register(c: TestClient) -> str:
    r = post_form(c, "/patients/new", "/patients/new", PATIENT)
    assert r.status_code == 303, r.text
    found = re.match(r"/patients/(P-[0-9a-f]{16})\?done=registered$", r.headers["location"])
    assert found is not None
    return found.group(1)


def _digest(page: str) -> str:
    found = re.search(r'name="content_digest" value="([0-9a-f]{64})"', page)
    assert found is not None, "no sign form"
    return found.group(1)


def test_sign_lock_and_unlock_from_the_patient_page(login: Login) -> None:
    editor, inv, viewer = login("editor_a"), login("inv_a"), login("viewer_a")
    pid = _register(editor)
    url = f"/patients/{pid}"
    assert "Sign this data set" not in editor.get(url).text
    assert "Sign this data set" not in viewer.get(url).text
    assert inv.get("/dashboard").status_code == 200  # the investigator's home page
    page = inv.get(url).text
    assert "Not signed" in page and "Sign this data set" in page
    digest = _digest(page)
    form = {"meaning": "reviewed and approved", "content_digest": digest}
    wrong = post_form(inv, url, f"{url}/sign", {**form, "password": "not-the-password"})
    assert wrong.status_code == 403 and "nothing was signed" in html.unescape(wrong.text)
    ok = post_form(inv, url, f"{url}/sign", {**form, "password": SEED_PASSWORD})
    assert ok.status_code == 303 and ok.headers["location"] == f"{url}?done=signed"
    page = html.unescape(editor.get(url).text)
    assert "Signed and locked" in page and "This record is signed and locked." in page
    assert "Signed electronically by inv_a (inv_a) on " in page
    assert "meaning: reviewed and approved" in page
    assert f"{url}/edit" not in page  # the correction tab is gone while locked
    forged = post_form(editor, f"{url}/edit", f"{url}/edit", {"version": "1", "reason": "r"})
    assert forged.status_code == 409 and "record_locked" in forged.text
    no_reason = post_form(inv, url, f"{url}/unlock", {"reason": ""})
    assert no_reason.status_code == 422
    unlocked = post_form(inv, url, f"{url}/unlock", {"reason": "late lab result"})
    assert unlocked.status_code == 303
    page = html.unescape(editor.get(url).text)
    assert "This record is signed and locked." not in page
    assert "superseded by unlock U-" in page and "late lab result" in page
    assert f"{url}/edit" in page


def test_a_coordinator_unlocks_by_registry_id_from_the_coordinator_page(login: Login) -> None:
    editor, inv, coord = login("editor_a"), login("inv_a"), login("coord")
    pid = _register(editor)
    url = f"/patients/{pid}"
    form = {"meaning": "reviewed", "content_digest": _digest(inv.get(url).text)}
    assert (
        post_form(inv, url, f"{url}/sign", {**form, "password": SEED_PASSWORD}).status_code == 303
    )
    assert coord.get(url).status_code == 403  # pooled_only: no patient page
    page = coord.get("/coordinator").text
    assert 'action="/coordinator/unlock"' in page and "SIGN-001" not in page
    unknown = post_form(coord, "/coordinator", "/coordinator/unlock",
                        {"pid": "not an id", "reason": "site asked"})  # fmt: skip
    assert unknown.status_code == 404
    done = post_form(coord, "/coordinator", "/coordinator/unlock",
                     {"pid": pid, "reason": "site asked"})  # fmt: skip
    assert done.status_code == 303
    assert done.headers["location"] == f"/coordinator?done=unlocked&unlocked={pid}"
    assert f"Unlocked {pid}" in coord.get(done.headers["location"]).text
    assert "superseded by unlock" in editor.get(url).text
    again = post_form(coord, "/coordinator", "/coordinator/unlock", {"pid": pid, "reason": "r"})
    assert again.status_code == 409  # not_locked
