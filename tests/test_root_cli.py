"""The root command line: --version, --help and the public API."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

import infantall
from infantall.cli import app

runner = CliRunner()


def test_version_prints_package_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"infantall {infantall.__version__}"


def test_help_names_the_research_scope() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "research" in result.output.lower()


def test_help_does_not_import_heavy_libraries() -> None:
    # --help must start fast: no pandas, matplotlib, lifelines or SQLAlchemy at import time.
    code = (
        "import sys; from infantall.cli import app; "
        "heavy = [m for m in ('pandas', 'matplotlib', 'lifelines', 'sqlalchemy', 'scipy', "
        "'statsmodels', 'fastapi', 'dask') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_is_explicit() -> None:
    assert set(infantall.__all__) == {
        "RESEARCH_DISCLAIMER",
        "InfantallError",
        "InfantallWarning",
        "InvalidInputError",
        "__version__",
    }
    for name in infantall.__all__:
        assert hasattr(infantall, name)
