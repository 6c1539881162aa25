"""``infantall federated demo``: three SYNTHETIC registries as nodes on loopback ports.

1. one synthetic cohort (``infantall.cohort``, SYNTHETIC) of three study groups is split by
   group into three fresh SQLite registries, each loaded through the registry's CSV import;
2. each registry gets federation settings: enabled for one trusted coordinator, a random
   node key (the command serves each with uvicorn on 127.0.0.1);
3. the coordinator runs the analyses over HTTP and compares them with the pooled analysis
   (:mod:`.comparison`);
4. each node's audit trail is read back (:func:`audit_trails`): what it was asked and what
   left it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from infantall.cohort import generate_cohort
from infantall.errors import InvalidInputError
from infantall.registry.admin import bootstrap_admin, create_site, create_user
from infantall.registry.auth import authenticate, login
from infantall.registry.csv_import import import_csv
from infantall.registry.db import Database, upgrade_database
from infantall.registry.models import AuditEntry, Role
from infantall.registry.schemas import SiteCreate, UserCreate
from infantall.registry.security import password_hasher
from infantall.registry.settings import RegistrySettings, load_settings
from infantall.services.cohort_registry import redcap_tables_by_site
from infantall.services.federation.node import NodeData
from infantall.services.federation.registry_node import registry_node_data
from infantall.services.federation.settings import FederationSettings

__all__ = ["COORDINATOR", "DEMO_NODES", "DemoNode", "audit_trails", "build_demo_nodes"]

#: The three SYNTHETIC study groups (one node each).
DEMO_NODES = ("SYN-Interfant", "SYN-JPLSG", "SYN-COG")
COORDINATOR = "demo-coordinator"


def _settings(path: Path) -> RegistrySettings:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return load_settings(
        database_url=f"sqlite:///{path.resolve()}",
        environment="development",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )


def _build_registry(settings: RegistrySettings, site: str, table: Any) -> Database:
    database = Database.from_settings(settings)
    upgrade_database(database.engine)
    hasher = password_hasher(settings)
    pw = secrets.token_urlsafe(12)
    with database.write_sessions() as session:
        bootstrap_admin(session, hasher, "admin", pw)
        issued = login(
            session, settings, hasher, username="admin", password=pw, kind="bearer", channel="cli"
        )
        admin = authenticate(session, issued.token, "cli")
        create_site(session, admin, SiteCreate(code=site, name=f"{site} (SYNTHETIC)"))
        create_user(
            session,
            admin,
            hasher,
            UserCreate(username="editor", password=pw, role=Role.site_editor, site_code=site),
        )
        issued = login(
            session, settings, hasher, username="editor", password=pw, kind="bearer", channel="cli"
        )
        editor = authenticate(session, issued.token, "cli")
    content = table.drop(columns=["site_code"]).to_csv(index=False).encode("utf-8")
    with database.write_sessions() as session:
        report = import_csv(session, editor, content)
    if not report.ok:
        first = report.errors[0]
        raise InvalidInputError(first.field, f"row {first.row}: {first.reason}", first.code)
    return database


def _audit_rows(database: Database) -> list[dict[str, Any]]:
    with database.read_sessions() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "federation").order_by(AuditEntry.id)
        ).all()
        return [
            {
                "at": r.at.isoformat(),
                "action": r.action,
                "analysis": r.entity_id,
                "actor": r.actor_username,
                "content": r.new,
            }
            for r in rows
        ]


@dataclass(frozen=True, slots=True)
class DemoNode:
    """One demo node: its registry, settings and the frames it answers from."""

    name: str
    settings: RegistrySettings
    database: Database
    data: NodeData
    federation: FederationSettings


def build_demo_nodes(
    out_dir: Path, *, n: int = 1200, seed: int = 21, progress: Callable[[str], None] | None = None
) -> list[DemoNode]:
    """Three fresh SQLite registries from one SYNTHETIC cohort split by study group, each
    with federation enabled for :data:`COORDINATOR` under a random node key."""
    say = progress or (lambda _m: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    say(f"generating a SYNTHETIC cohort of {n} infants in {len(DEMO_NODES)} study groups")
    cohort = generate_cohort(n, sites=len(DEMO_NODES), seed=seed)
    tables = sorted(redcap_tables_by_site(cohort).items())
    if len(tables) != len(DEMO_NODES):
        raise InvalidInputError("n", "too few patients for three study groups", "too_few")
    out = []
    for name, (_site, table) in zip(DEMO_NODES, tables, strict=True):
        say(f"building node {name}: a SQLite registry loaded through the CSV import")
        settings = _settings(out_dir / f"{name}.sqlite")
        db = _build_registry(settings, name, table)
        node_data = registry_node_data(
            db,
            name,
            settings.pseudonym_key.get_secret_value(),
            max_shift_days=settings.date_shift_max_days,
        )
        federation = FederationSettings(
            enabled=True,
            node_name=name,
            node_key=secrets.token_urlsafe(24),
            trusted_coordinators=(COORDINATOR,),
        )
        out.append(DemoNode(name, settings, db, node_data, federation))
    return out


def audit_trails(nodes: list[DemoNode]) -> dict[str, list[dict[str, Any]]]:
    """Each node's federation audit rows: every request, release and refusal."""
    return {node.name: _audit_rows(node.database) for node in nodes}
