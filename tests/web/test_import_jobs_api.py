"""The import job API: 202 with a status URL, progress and exactly what was committed,
per-site visibility, and a restart that ends unfinished jobs (issue 14, defect 5)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select

from infantall.registry.import_jobs import ImportJob
from infantall.registry.models import Patient
from infantall.web.app import create_app

API = "/api/v1"
CSV = "text/csv"


def _csv(n: int, bad: int | None = None) -> str:
    lines = ["record_id,redcap_repeat_instrument,birth_date,diagnosis_date,event_kind,event_date"]
    for i in range(n):
        diagnosis = "2023-01-01" if i == bad else "2024-03-01"
        lines += [
            f"J{i:04d},,2024-01-01,{diagnosis},,",
            f"J{i:04d},event,,,last_contact,2024-06-01",
        ]
    return "\n".join(lines) + "\n"


def _wait(client: Any, url: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(600):  # a job of a few rows ends in well under a minute
        body: dict[str, Any] = client.get(url, headers=headers).json()
        if body["done"]:
            return body
        time.sleep(0.1)
    raise AssertionError(f"job did not end: {body}")


def _post(client: Any, headers: dict[str, str], text: str) -> Any:
    return client.post(
        f"{API}/import",
        content=text,
        headers={**headers, "Content-Type": CSV, "Prefer": "respond-async", "X-Filename": "x.csv"},
    )


def test_an_async_import_answers_202_and_its_job_reports_the_commit(
    client: Any, auth: Any, registry: Any
) -> None:
    r = _post(client, auth["editor_a"], _csv(25))
    assert r.status_code == 202, r.text
    body = r.json()
    assert r.headers["location"] == body["status_url"] == f"{API}/imports/{body['job_id']}"
    assert body["state"] == "queued" and body["filename"] == "x.csv"
    done = _wait(client, body["status_url"], auth["editor_a"])
    assert done["state"] == "succeeded"
    assert (done["patients_committed"], done["events_committed"]) == (25, 25)
    assert done["rows_read"] == done["rows_validated"] == 50
    assert done["committed_through_line"] == 50 and done["problems"] == []
    _, database = registry
    with database.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Patient)) == 25
    # Same site sees it; another site and the admin do not (404, no existence leak).
    assert client.get(body["status_url"], headers=auth["viewer_a"]).status_code == 200
    assert client.get(body["status_url"], headers=auth["coord"]).status_code == 200
    for other in ("editor_b", "admin"):
        assert client.get(body["status_url"], headers=auth[other]).status_code == 404


def test_a_large_file_runs_as_a_job_without_asking(client: Any, auth: Any, app: Any) -> None:
    text = _csv(10)
    app.state.settings = app.state.settings.model_copy(
        update={"import_job_threshold_bytes": len(text) - 1}
    )
    r = client.post(
        f"{API}/import", content=text, headers={**auth["editor_a"], "Content-Type": CSV}
    )
    assert r.status_code == 202
    assert _wait(client, r.json()["status_url"], auth["editor_a"])["state"] == "succeeded"


def test_a_rejected_job_lists_its_problems(client: Any, auth: Any) -> None:
    r = _post(client, auth["editor_a"], _csv(6, bad=4))
    done = _wait(client, r.json()["status_url"], auth["editor_a"])
    assert done["state"] == "rejected" and done["patients_committed"] == 0
    assert done["problems"][0]["row"] == 10 and done["problems"][0]["record_id"] == "J0004"
    audit = client.get(f"{API}/audit", headers=auth["admin"], params={"action": "import_rejected"})
    assert audit.status_code == 200
    assert any(row["entity_id"] == r.json()["job_id"] for row in audit.json())


def test_viewers_cannot_start_a_job(client: Any, auth: Any) -> None:
    assert _post(client, auth["viewer_a"], _csv(2)).status_code == 403
    assert client.get(f"{API}/imports/{'0' * 32}", headers=auth["editor_a"]).status_code == 404


def test_restarting_the_server_fails_the_jobs_it_was_running(
    auth: Any, registry: Any, seeded: Any
) -> None:
    settings, database = registry
    with database.write_sessions() as s:
        job = ImportJob(
            id="a" * 32, site_id=seeded["editor_a"].site_id, username="editor_a",
            state="validating", size_bytes=10, rows_read=4000, rows_validated=0,
            patients_committed=0, events_committed=0, problem_count=0, worker=None,
        )  # fmt: skip
        s.add(job)
        s.commit()
    create_app(settings, database=database)  # what a restart does
    with database.read_sessions() as s:
        ended = s.get(ImportJob, "a" * 32)
        assert ended is not None and ended.state == "failed"
        assert ended.message is not None and "restarted" in ended.message
        assert "0 patients and 0 events were committed" in ended.message


def test_a_file_over_the_sites_byte_limit_is_refused_by_name(
    client: Any, auth: Any, app: Any, registry: Any
) -> None:
    """Over the site's limit: a problem naming the file and the limit, no job, nothing stored."""
    text = _csv(10)
    app.state.settings = app.state.settings.model_copy(
        update={"import_site_limits": {"SITE-A": (len(text) - 1, 1000)}}
    )
    r = _post(client, auth["editor_a"], text)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "import_too_large" and str(len(text) - 1) in body["detail"]
    _, database = registry
    with database.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(ImportJob)) == 0
        assert s.scalar(select(func.count()).select_from(Patient)) == 0
