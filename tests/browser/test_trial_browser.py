"""End-to-end trial pages in Debian's Chromium (Playwright): a site editor enrols an eligible
patient through the pages and sees the allocation; the coordinator (not on the DMC) gets the
open report only, the trial's DMC statistician the closed one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from browser.conftest import LiveServer
from infantall.registry import admin
from infantall.registry.models import Role
from infantall.registry.schemas import UserCreate
from infantall.registry.security import password_hasher
from infantall.registry.testing import SEED_PASSWORD
from infantall.services import trials
from infantall.services.trials.enrol import enrolment_candidates, preview_enrolment

pytestmark = pytest.mark.browser

DESIGN = Path(__file__).resolve().parents[2] / "examples" / "design" / "pick-a-winner-binary.yaml"
CODE = "BROWSER-T1"


@pytest.fixture(scope="module")
def trial(live_server: LiveServer) -> dict[str, str]:
    """A trial on the live registry with a DMC statistician; an eligible SITE-A patient."""
    people = live_server.principals
    spec = yaml.safe_load(DESIGN.read_text(encoding="utf-8"))
    db = live_server.database
    with db.write_sessions() as s:
        trials.create_trial(
            s,
            people["coord"],
            code=CODE,
            spec=spec,
            method="permuted-blocks",
            settings={"factors": ["age_under_6_months"]},
        )
        admin.create_user(
            s,
            people["admin"],
            password_hasher(live_server.settings),
            UserCreate(username="dmc_browser", password=SEED_PASSWORD, role=Role.coordinator),
        )
    with db.write_sessions() as s:
        trials.grant_trial_role(s, people["coord"], CODE, "dmc_browser", "dmc_statistician")
    with db.read_sessions() as s:
        editor = people["editor_a"]
        for c in enrolment_candidates(s, editor, CODE):
            preview = preview_enrolment(s, editor, CODE, c["patient"])
            if preview["eligible"]:
                return c
    pytest.fail("no eligible SITE-A patient in the synthetic cohort")


def test_enrol_shows_eligibility_then_the_allocation(
    open_page: Callable[..., Any], trial: dict[str, str], screenshot_dir: Path
) -> None:
    page = open_page("editor_a")
    page.get_by_role("link", name="Trials").click()
    page.get_by_role("link", name=CODE).click()
    expect(page.locator("#my-allocations")).to_contain_text("none yet")
    page.get_by_role("link", name="Enrol a patient").click()
    page.get_by_label("Patient").select_option(trial["patient"])
    page.get_by_role("button", name="Check eligibility").click()
    expect(page.locator("#eligibility h2")).to_contain_text("eligible")
    expect(page.get_by_text("Allocated arm")).to_have_count(0)  # nothing before confirming
    page.get_by_role("button", name="Confirm enrolment and allocate").click()
    heading = page.locator("#allocated h2")
    expect(heading).to_contain_text("Allocated arm:")
    arm = heading.locator("strong").inner_text()
    page.screenshot(path=screenshot_dir / "trial-allocated.png")
    page.get_by_role("link", name="Back to the trial").click()
    row = page.locator("#my-allocations tr", has_text=trial["patient"])
    expect(row).to_contain_text(arm)
    # SITE-B's editor does not see SITE-A's allocation
    other = open_page("editor_b")
    other.goto(f"/trials/{CODE}")
    expect(other.locator("#my-allocations")).not_to_contain_text(trial["patient"])


def test_non_dmc_role_gets_the_open_report_only(
    open_page: Callable[..., Any], trial: dict[str, str], screenshot_dir: Path
) -> None:
    coord = open_page("coord")
    coord.goto(f"/trials/{CODE}")
    coord.get_by_role("link", name="Open report (pooled)").click()
    expect(coord.get_by_role("heading", level=1)).to_contain_text("Open data-monitoring report")
    expect(coord.locator("#allocation")).to_have_count(0)
    expect(coord.locator("#interims")).to_have_count(0)
    expect(coord.locator("#safety")).to_contain_text("all arms")
    dmc = open_page("dmc_browser")
    dmc.goto(f"/trials/{CODE}")
    dmc.get_by_role("link", name="Closed DMC report (unblinded)").click()
    expect(dmc.get_by_role("heading", level=1)).to_contain_text("Closed data-monitoring report")
    expect(dmc.locator("#allocation")).to_be_visible()
    dmc.screenshot(path=screenshot_dir / "trial-dmc-closed.png", full_page=True)
