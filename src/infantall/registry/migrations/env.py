"""Alembic environment: runs on the engine handed over by ``infantall.registry.db``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from infantall.registry.models import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through infantall.registry.db.upgrade_database")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=engine.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
