"""Issue 14, secure by default: ``infantall serve`` refuses to start without real secrets
outside development (defect 9), and the SQLite file is readable by its owner only
(defect 14). These tests never start a server."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infantall.cli import app as cli_app
from infantall.registry.security import restrict_sqlite_file
from infantall.registry.settings import DEFAULT_SECRET

_ENV = (
    "INFANTALL_ENVIRONMENT",
    "INFANTALL_SECRET_KEY",
    "INFANTALL_PSEUDONYM_KEY",
    "INFANTALL_DATABASE_URL",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_serve_refuses_default_secrets_outside_development(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    result = CliRunner().invoke(cli_app, ["serve", "--database-url", url])
    assert result.exit_code != 0
    assert "INFANTALL_SECRET_KEY" in result.output and "--dev" in result.output
    # an explicit production environment with the public default is refused just the same
    clean_env.setenv("INFANTALL_ENVIRONMENT", "production")
    clean_env.setenv("INFANTALL_SECRET_KEY", DEFAULT_SECRET)
    result = CliRunner().invoke(cli_app, ["serve", "--database-url", url])
    assert result.exit_code != 0 and "default is refused" in result.output


def test_serve_settings_by_flag_and_environment(clean_env: pytest.MonkeyPatch) -> None:
    from infantall.commands.serve import _serve_settings

    assert _serve_settings(True, None).environment == "development"
    clean_env.delenv("INFANTALL_ENVIRONMENT", raising=False)
    clean_env.setenv("INFANTALL_SECRET_KEY", "s" * 32)
    clean_env.setenv("INFANTALL_PSEUDONYM_KEY", "p" * 32)
    settings = _serve_settings(False, None)
    assert settings.environment == "production"
    clean_env.setenv("INFANTALL_ENVIRONMENT", "development")
    clean_env.delenv("INFANTALL_SECRET_KEY")
    assert _serve_settings(False, None).environment == "development"


def test_serve_help_documents_the_flags() -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for flag in ("--host", "--port", "--dev", "--proxy-headers"):
        assert flag in result.output


def test_sqlite_file_is_created_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = restrict_sqlite_file(f"sqlite:///{tmp_path / 'new.db'}")
    finally:
        os.umask(old)
    assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    existing = tmp_path / "old.db"
    existing.write_bytes(b"")
    existing.chmod(0o644)
    Path(f"{existing}-wal").write_bytes(b"")
    restrict_sqlite_file(f"sqlite:///{existing}")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(f"{existing}-wal").stat().st_mode) == 0o600
    assert restrict_sqlite_file("postgresql+psycopg://u@h/db") is None


def test_the_web_app_tightens_its_sqlite_file(tmp_path: Path) -> None:
    from infantall.registry.testing import make_test_settings
    from infantall.web import create_app

    path = tmp_path / "app.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    app = create_app(make_test_settings(f"sqlite:///{path}"))
    app.state.database.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_every_command_leaves_the_sqlite_file_owner_only(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Defect 14 beyond ``serve``: ``registry init``, the first command a data manager runs,
    created the file world-readable (0644 under the usual umask 022) and nothing tightened it
    until a server started; a command-line-only registry stayed so. Every engine is now made
    by ``make_engine``, which restricts the file."""
    clean_env.setenv("INFANTALL_ENVIRONMENT", "development")
    clean_env.setenv("INFANTALL_PASSWORD", "correct horse battery staple 9")
    path = tmp_path / "cli.db"
    url = f"sqlite:///{path}"
    old = os.umask(0o022)
    try:
        done = CliRunner().invoke(
            cli_app, ["registry", "init", "--admin", "root", "--database-url", url]
        )
        assert done.exit_code == 0, done.output
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for companion in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            if companion.exists():
                assert stat.S_IMODE(companion.stat().st_mode) == 0o600
        path.chmod(0o644)  # e.g. copied in by hand: the next command tightens it
        done = CliRunner().invoke(cli_app, ["registry", "verify", "--database-url", url])
        assert done.exit_code == 0, done.output
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
