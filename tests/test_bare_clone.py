"""A bare clone, with nothing beside it, passes the tests that would read ``../shared``.

The committed tree is cloned into a temporary folder (no ``../shared`` beside it, none of the
``INFANTALL_*`` variables set) and the suites that read the seed texts and research notes run
there: they must pass, skipping those tests with their one clear reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_bare_clone_passes_without_shared(tmp_path: Path) -> None:
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    clone = tmp_path / "bare" / "infantall"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFANTALL_")}
    env["PYTHONPATH"] = str(clone / "src")
    suites = ["tests/evidence", "tests/protocols", "tests/domain"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *suites],
        check=False,
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    tail = run.stdout[-3000:]
    assert run.returncode == 0, tail
    assert "skipped" in tail and "a bare clone has none" in tail, tail
