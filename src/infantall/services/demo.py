"""The main job (``make demo``): the whole platform on embedded defaults.

1. a SQLite registry is created with the registry's own migrations (recreated on every run,
   so a second run starts clean);
2. a synthetic multi-site cohort (``infantall.cohort``, labelled SYNTHETIC) is loaded site by
   site through the registry's own REDCap-style CSV import, as each site's data manager;
3. demo accounts are created, one per role, with fresh random passwords;
4. every patient is stratified under every protocol and the groups are stored with the
   protocol version;
5. the coordinator's cohort (pooled, pseudonymised) is loaded once, with its analysis
   dataset, and returned: the presenter writes the full report from it
   (``infantall demo`` writes :data:`REPORT_FILE` and may then serve the web app on
   127.0.0.1).

Every step goes through the same service functions as the REST API, so the demo exercises
validation, access control and the audit trail exactly as a user would.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.cohort import generate_cohort
from infantall.errors import InvalidInputError
from infantall.registry.access import Principal
from infantall.registry.admin import bootstrap_admin, create_site, create_user
from infantall.registry.auth import authenticate, login
from infantall.registry.csv_import import import_csv
from infantall.registry.db import Database, upgrade_database
from infantall.registry.errors import ValidationFailedError
from infantall.registry.models import Patient, Role
from infantall.registry.schemas import SiteCreate, UserCreate
from infantall.registry.security import password_hasher
from infantall.registry.settings import RegistrySettings, load_settings
from infantall.services.cohort_registry import redcap_tables_by_site
from infantall.services.datasets import RegistryCohort, registry_cohort
from infantall.services.risk_groups import compute_risk_groups

__all__ = [
    "ACCOUNTS_FILE",
    "DATABASE_FILE",
    "DEMO_ROLES",
    "REPORT_FILE",
    "DemoAccount",
    "DemoResult",
    "LoadedCohort",
    "demo_settings",
    "load_synthetic_cohort",
    "run_demo",
]

#: The demo's accounts: (username, role, index of the site for site roles or None).
DEMO_ROLES: tuple[tuple[str, str, int | None], ...] = (
    ("admin", "admin", None),
    ("coordinator", "coordinator", None),
    ("editor", "site_editor", 0),
    ("viewer", "site_viewer", 0),
)
#: The demo's files in its output folder (the report is written by the presenter).
DATABASE_FILE = "registry.sqlite"
REPORT_FILE = "report.html"
ACCOUNTS_FILE = "demo-accounts.txt"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One account created by the demo (the password is shown once)."""

    username: str
    role: str
    site_code: str | None
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo built and where, and the coordinator's cohort for the report."""

    out_dir: Path
    database_url: str
    accounts_file: Path
    accounts: tuple[DemoAccount, ...]
    sites: int
    patients: int
    events: int
    risk_assignments: int
    cohort: RegistryCohort = field(repr=False)

    @property
    def report_path(self) -> Path:
        """Where the demo's full report belongs (:data:`REPORT_FILE` in ``out_dir``)."""
        return self.out_dir / REPORT_FILE

    @property
    def report_label(self) -> str:
        """The label of the cohort in the report."""
        return f"Demo registry ({len(self.cohort.histories)} SYNTHETIC infants)"


@dataclass(frozen=True, slots=True)
class LoadedCohort:
    """What was imported: patients and events per registry site code."""

    patients: dict[str, int]
    events: dict[str, int]


def load_synthetic_cohort(
    database: Database, editors: Sequence[tuple[str, Principal]], n: int, seed: int
) -> LoadedCohort:
    """Generate ``n`` SYNTHETIC patients over ``len(editors)`` sites and import each site's
    file through the registry's CSV import as that site's editor (``editors``: registry site
    code and its editor), exactly as a data manager's upload would be (validated as a whole,
    audited). A synthetic site that drew no patient leaves its registry site empty.

    Raises
    ------
    ValidationFailedError
        If the registry refuses a generated file (the first problem of its report).
    """
    cohort = generate_cohort(n, sites=len(editors), seed=seed)
    tables = redcap_tables_by_site(cohort)
    patients: dict[str, int] = {}
    events: dict[str, int] = {}
    # a synthetic site that drew no patient has no table: the last registry sites stay empty
    pairs = zip(editors, sorted(tables.items()), strict=False)
    for (code, editor), (_synthetic_site, table) in pairs:
        content = table.drop(columns=["site_code"]).to_csv(index=False).encode("utf-8")
        with database.write_sessions() as session:
            report = import_csv(session, editor, content)
        if not report.ok:
            first = report.errors[0]
            raise ValidationFailedError(
                [InvalidInputError(first.field, f"row {first.row}: {first.reason}", first.code)]
            )
        patients[code] = report.imported_patients
        events[code] = report.imported_events
    return LoadedCohort(patients, events)


def demo_settings(out_dir: Path) -> RegistrySettings:
    """Settings of the demo registry: a SQLite file in ``out_dir``, development mode."""
    db = (out_dir / DATABASE_FILE).resolve()
    return load_settings(database_url=f"sqlite:///{db}", environment="development")


def _fresh_database(out_dir: Path, settings: RegistrySettings) -> Database:
    for suffix in ("", "-wal", "-shm", "-journal"):
        (out_dir / f"{DATABASE_FILE}{suffix}").unlink(missing_ok=True)
    database = Database.from_settings(settings)
    upgrade_database(database.engine)
    return database


def _password() -> str:
    return secrets.token_urlsafe(12)


def _principal(
    session: Session, settings: RegistrySettings, username: str, password: str
) -> Principal:
    """Log in through the registry's own authentication (as the CLI does)."""
    issued = login(
        session,
        settings,
        password_hasher(settings),
        username=username,
        password=password,
        kind="bearer",
        channel="cli",
    )
    return authenticate(session, issued.token, "cli")


def _create_account(
    session: Session,
    settings: RegistrySettings,
    admin: Principal,
    username: str,
    role: str,
    site_code: str | None,
) -> DemoAccount:
    password = _password()
    create_user(
        session,
        admin,
        password_hasher(settings),
        UserCreate(username=username, password=password, role=Role(role), site_code=site_code),
    )
    return DemoAccount(username, role, site_code, password)


def run_demo(
    out_dir: Path,
    *,
    n: int = 600,
    sites: int = 18,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Build the demo registry in ``out_dir`` and load the coordinator's cohort for the
    report (see the module docstring).

    Raises
    ------
    infantall.errors.InfantallError
        A step was refused (the message says which and why); nothing is served.
    """
    say = progress or (lambda _msg: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(out_dir)
    database = _fresh_database(out_dir, settings)
    try:
        accounts: list[DemoAccount] = []
        editors: list[tuple[str, Principal]] = []
        site_codes = [f"SYN-S{i + 1:02d}" for i in range(sites)]
        with database.write_sessions() as session:
            admin_pw = _password()
            bootstrap_admin(session, password_hasher(settings), "admin", admin_pw)
            accounts.append(DemoAccount("admin", "admin", None, admin_pw))
            admin = _principal(session, settings, "admin", admin_pw)
            for i, code in enumerate(site_codes):
                create_site(session, admin, SiteCreate(code=code, name=f"Synthetic site {i + 1}"))
                username = "editor" if i == 0 else f"editor-{code.lower()}"
                editor = _create_account(session, settings, admin, username, "site_editor", code)
                accounts.append(editor)
                editors.append(
                    (code, _principal(session, settings, editor.username, editor.password))
                )
            for username, role, site_index in DEMO_ROLES[1:]:
                if username == "editor":
                    continue
                site = None if site_index is None else site_codes[site_index]
                accounts.append(_create_account(session, settings, admin, username, role, site))
        say(
            f"importing a SYNTHETIC cohort of {n} infants at {sites} sites (seed {seed}) "
            "through the registry's CSV import, site by site"
        )
        loaded = load_synthetic_cohort(database, editors, n, seed)
        say("stratifying every patient under every protocol")
        n_assign = _stratify_all(database, settings, accounts)
        say("loading the cohort as the coordinator sees it (pooled, pseudonymised)")
        cohort = _coordinator_cohort(database, settings, accounts)
    finally:
        database.dispose()
    accounts_file = _write_accounts(out_dir / ACCOUNTS_FILE, accounts)
    return DemoResult(
        out_dir=out_dir,
        database_url=settings.database_url,
        accounts_file=accounts_file,
        accounts=tuple(accounts),
        sites=sites,
        patients=sum(loaded.patients.values()),
        events=sum(loaded.events.values()),
        risk_assignments=n_assign,
        cohort=cohort,
    )


def _stratify_all(
    database: Database, settings: RegistrySettings, accounts: list[DemoAccount]
) -> int:
    """Store the risk groups of every patient, each site's editor computing its own."""
    total = 0
    with database.write_sessions() as session:
        for account in accounts:
            if account.role != "site_editor":
                continue
            editor = _principal(session, settings, account.username, account.password)
            ids = session.scalars(
                select(Patient.registry_id).where(Patient.site_id == editor.site_id)
            ).all()
            for registry_id in ids:
                total += len(compute_risk_groups(session, editor, registry_id))
    return total


def _coordinator_cohort(
    database: Database, settings: RegistrySettings, accounts: list[DemoAccount]
) -> RegistryCohort:
    """The histories and analysis dataset of every site, as the coordinator reads them."""
    coordinator = next(a for a in accounts if a.role == "coordinator")
    with database.write_sessions() as session:
        who = _principal(session, settings, coordinator.username, coordinator.password)
        return registry_cohort(
            session,
            who,
            settings.pseudonym_key.get_secret_value(),
            max_shift_days=settings.date_shift_max_days,
        )


def _write_accounts(path: Path, accounts: list[DemoAccount]) -> Path:
    lines = [
        "# infantall demo accounts (SYNTHETIC registry; recreated by every `make demo`)",
        "# username\trole\tsite\tpassword",
        *(f"{a.username}\t{a.role}\t{a.site_code or '-'}\t{a.password}" for a in accounts),
    ]
    # Created owner-only (it holds passwords): writing first and tightening after would leave
    # the file readable by others in between; an existing file keeps its mode at open.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path
