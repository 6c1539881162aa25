"""A large upload on the import page becomes a job: 303 to its page, which reloads itself
while the job runs and then shows what was committed (issue 14, defect 5)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from pages.conftest import csrf_of

Login = Callable[[str], TestClient]

HEADER = "record_id,redcap_repeat_instrument,birth_date,diagnosis_date,event_kind,event_date"


def _file(n: int, bad: int | None = None) -> bytes:
    rows = [HEADER]
    for i in range(n):
        dx = "2023-01-01" if i == bad else "2024-03-01"
        rows += [f"G{i:03d},,2024-01-01,{dx},,", f"G{i:03d},event,,,last_contact,2024-06-01"]
    return ("\n".join(rows) + "\n").encode()


def _upload(c: Any, content: bytes) -> Any:
    token = csrf_of(c.get("/import").text)
    return c.post("/import", data={"csrf_token": token},
                  files={"file": ("big.csv", content, "text/csv")})  # fmt: skip


def _follow(c: Any, url: str) -> str:
    for _ in range(600):  # a few rows: ends well within a minute
        page: str = c.get(url).text
        if 'http-equiv="refresh"' not in page:
            return page
        time.sleep(0.1)
    raise AssertionError("the job page never stopped reloading")


def test_a_large_upload_runs_as_a_job_with_its_own_page(login: Login, app: Any) -> None:
    app.state.settings = app.state.settings.model_copy(update={"import_job_threshold_bytes": 10})
    c = login("editor_a")
    r = _upload(c, _file(12))
    assert r.status_code == 303 and r.headers["location"].startswith("/imports/")
    page = _follow(c, r.headers["location"])
    assert "big.csv: succeeded" in page and "Every record of the file is in the registry" in page
    assert '<th scope="row">Patients committed</th><td>12</td>' in page
    assert login("editor_b").get(r.headers["location"]).status_code == 404


def test_a_rejected_job_page_lists_the_problems(login: Login, app: Any) -> None:
    app.state.settings = app.state.settings.model_copy(update={"import_job_threshold_bytes": 10})
    c = login("editor_a")
    page = _follow(c, _upload(c, _file(5, bad=2)).headers["location"])
    assert "rejected" in page and "Nothing was imported" in page
    assert "<td>6</td><td>G002</td>" in page and "diagnosis_before_birth" in page
