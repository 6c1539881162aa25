"""``infantall serve``: the registry's web app and JSON API under uvicorn, secure by default."""

from __future__ import annotations

import os
from typing import Any

import typer

from infantall.commands._output import fail
from infantall.commands.registry import DatabaseOption

__all__ = ["register", "serve"]


def _serve_settings(dev: bool, database_url: str | None) -> Any:
    """The settings ``serve`` runs with: production unless ``--dev`` or
    ``INFANTALL_ENVIRONMENT=development``; secrets required outside development."""
    from infantall.errors import InvalidInputError
    from infantall.registry.settings import load_settings

    environment = "development" if dev else os.environ.get("INFANTALL_ENVIRONMENT", "production")
    overrides = {"environment": environment}
    if database_url:
        overrides["database_url"] = database_url
    try:
        return load_settings(**overrides)
    except InvalidInputError as exc:
        fail(
            f"{exc.field}: {exc.reason}. Set INFANTALL_SECRET_KEY and INFANTALL_PSEUDONYM_KEY "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), "
            "or run `infantall serve --dev` on a development machine."
        )


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface (loopback by default)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    workers: int = typer.Option(1, "--workers", min=1, max=32),
    dev: bool = typer.Option(
        False,
        "--dev",
        help="Development mode: the built-in public secrets are accepted (never in production).",
    ),
    proxy_headers: bool = typer.Option(
        False,
        "--proxy-headers",
        help="Trust X-Forwarded-For/-Proto from the proxy at --forwarded-allow-ips.",
    ),
    forwarded_allow_ips: str = typer.Option("127.0.0.1", "--forwarded-allow-ips"),
    database_url: str | None = DatabaseOption,
) -> None:
    """Serve the registry (JSON API under /api/v1, docs at /api/v1/docs) with uvicorn.

    Outside development (``--dev`` or INFANTALL_ENVIRONMENT=development) it runs as
    production and refuses to start without INFANTALL_SECRET_KEY and
    INFANTALL_PSEUDONYM_KEY (16+ characters, not the built-in defaults); cookies are then
    ``Secure``. It prints the URL it listens on and logs every request (uvicorn's access
    log) to stderr.
    """
    import uvicorn

    from infantall.registry.db import HEAD_REVISION, current_revision, make_engine

    settings = _serve_settings(dev, database_url)
    engine = make_engine(settings)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    if revision != HEAD_REVISION:
        fail(
            f"the database is at schema {revision or 'none'}, not {HEAD_REVISION}: "
            "run `infantall registry init` first"
        )
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"infantall registry ({settings.environment}) listening on http://{shown}:{port}/ "
        f"(API docs: http://{shown}:{port}/api/v1/docs); Ctrl+C stops it",
        err=True,
    )
    if settings.environment == "development":
        typer.echo("WARNING: development mode: do not use it with real patient data", err=True)
    # The app factory reads its settings from the environment (in every worker).
    os.environ["INFANTALL_ENVIRONMENT"] = settings.environment
    os.environ["INFANTALL_DATABASE_URL"] = settings.database_url
    uvicorn.run(
        "infantall.web.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=True,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root command."""
    app.command("serve")(serve)
