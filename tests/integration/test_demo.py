"""The main job end to end: ``infantall demo`` builds a registry through the registry's own
import, one account per role, stored risk groups and the full report; a second run starts
clean (idempotent)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from infantall import RESEARCH_DISCLAIMER
from infantall.cli import app
from infantall.protocols import PROTOCOLS
from infantall.registry.models import AuditEntry, Patient, RiskAssignment, User
from infantall.services.demo import ACCOUNTS_FILE, DATABASE_FILE, REPORT_FILE, run_demo

N, SITES = 60, 3


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(
        app,
        ["demo", "--out-dir", str(out), "--n", str(N), "--sites", str(SITES), "--no-serve"],
    )
    assert result.exit_code == 0, result.output
    assert "report:" in result.output
    for role in ("admin", "coordinator", "site_editor", "site_viewer"):
        assert role in result.output
    return out


def _count(url: str, model: type) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(model)).scalar_one())
    finally:
        engine.dispose()


def test_registry_holds_every_synthetic_patient_and_risk_group(demo_dir: Path) -> None:
    url = f"sqlite:///{demo_dir / DATABASE_FILE}"
    assert _count(url, Patient) == N
    # every patient stratified under every protocol, stored with the protocol version
    assert _count(url, RiskAssignment) == N * len(PROTOCOLS)
    # admin + one editor per site + coordinator + viewer
    assert _count(url, User) == 1 + SITES + 2
    # every write went through the audited services
    assert _count(url, AuditEntry) > N + N * len(PROTOCOLS)


def test_accounts_file_lists_one_account_per_role_privately(demo_dir: Path) -> None:
    path = demo_dir / ACCOUNTS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = [line.split("\t") for line in path.read_text().splitlines() if not line.startswith("#")]
    roles = {r[1] for r in rows}
    assert roles == {"admin", "coordinator", "site_editor", "site_viewer"}
    assert all(len(r[3]) >= 10 for r in rows)  # the registry's minimum password length


def test_full_report_has_every_part(demo_dir: Path) -> None:
    page = (demo_dir / REPORT_FILE).read_text(encoding="utf-8")
    assert RESEARCH_DISCLAIMER in page
    assert "SYNTHETIC" in page
    for anchor in (
        "about",
        "cohort-table1",
        "cohort-protocols",
        "cohort-vs-trials",
        "outcomes-hsct",
        "outcomes-hsct-naive",
    ):
        assert f'id="{anchor}"' in page, anchor
    assert "Event-free survival" in page
    assert "Cumulative incidence of relapse" in page
    assert "Synthesis" in page
    assert "immortal-time bias" in page
    assert page.count('<svg role="img"') + page.count('src="data:image/png;base64,') >= 6
    assert "<script" not in page  # self-contained and inert


def test_second_run_recreates_cleanly(demo_dir: Path) -> None:
    before = (demo_dir / ACCOUNTS_FILE).read_text()
    result = run_demo(demo_dir, n=N, sites=SITES, seed=1)
    assert result.patients == N
    assert _count(f"sqlite:///{demo_dir / DATABASE_FILE}", Patient) == N
    assert (demo_dir / ACCOUNTS_FILE).read_text() != before  # fresh passwords each run
