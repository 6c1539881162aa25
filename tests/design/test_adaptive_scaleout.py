"""Scale-out of the adaptive simulator: resumable checkpoints, a separately started Dask
scheduler with worker processes on loopback, batch clusters (dask-jobqueue), progress."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.design.adaptive import load_spec, run_trials
from infantall.design.adaptive import runner as runner_module
from infantall.design.adaptive.cluster import build_cluster, parse_options
from infantall.design.adaptive.engine import TrialOutcomes
from infantall.errors import InvalidInputError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "design" / "pick-a-winner-binary.yaml"
SPEC = load_spec(EXAMPLE)
cli = CliRunner()


def _same(a: TrialOutcomes, b: TrialOutcomes) -> None:
    for field in TrialOutcomes.__slots__:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


# --- checkpoints -----------------------------------------------------------------------


def test_checkpoint_resumes_an_interrupted_run_to_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = run_trials(SPEC, 2300, seed=5, block_size=500).outcomes
    real = runner_module.simulate_block
    calls: list[int] = []

    def crash_on_third(spec: Any, size: int, ss: Any) -> TrialOutcomes:
        calls.append(size)
        if len(calls) == 3:
            raise RuntimeError("node lost")
        return real(spec, size, ss)

    monkeypatch.setattr(runner_module, "simulate_block", crash_on_third)
    with pytest.raises(RuntimeError, match="node lost"):
        run_trials(SPEC, 2300, seed=5, block_size=500, checkpoint=tmp_path)
    files = sorted(p.name for p in tmp_path.glob("*.npz"))
    assert len(files) == 2
    assert files[0].startswith("block-000000-n500-") and files[0].endswith("-seed5.npz")
    calls.clear()
    monkeypatch.setattr(runner_module, "simulate_block", lambda *a: calls.append(a[1]) or real(*a))
    done: list[int] = []
    resumed = run_trials(
        SPEC, 2300, seed=5, block_size=500, checkpoint=tmp_path, progress=done.append
    )
    assert calls == [500, 500, 300]  # only the blocks not on disk
    assert sum(done) == 2300
    _same(resumed.outcomes, full)
    calls.clear()
    again = run_trials(SPEC, 2300, seed=5, block_size=500, checkpoint=tmp_path)
    assert calls == []
    _same(again.outcomes, full)


def test_checkpoint_files_are_not_shared_across_designs_or_seeds(tmp_path: Path) -> None:
    run_trials(SPEC, 500, seed=1, block_size=500, checkpoint=tmp_path)
    other = SPEC.with_threshold(0.97)
    a = run_trials(other, 500, seed=1, block_size=500, checkpoint=tmp_path).outcomes
    b = run_trials(SPEC, 500, seed=2, block_size=500, checkpoint=tmp_path).outcomes
    assert len(list(tmp_path.glob("*.npz"))) == 3
    _same(a, run_trials(other, 500, seed=1, block_size=500).outcomes)
    _same(b, run_trials(SPEC, 500, seed=2, block_size=500).outcomes)


def test_cli_checkpoint_rerun_prints_the_same(tmp_path: Path) -> None:
    args = ["design", "simulate", str(EXAMPLE), "--trials", "1500", "--seed", "4"]
    plain = cli.invoke(app, [*args, "--format", "json"])
    first = cli.invoke(app, [*args, "--checkpoint", str(tmp_path), "--format", "json"])
    second = cli.invoke(app, [*args, "--checkpoint", str(tmp_path), "--format", "json"])
    assert plain.exit_code == first.exit_code == second.exit_code == 0, first.output
    assert json.loads(first.stdout) == json.loads(second.stdout) == json.loads(plain.stdout)
    assert len(list(tmp_path.glob("*.npz"))) == 2


# --- a separately started scheduler and worker processes -------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_workers(address: str, n: int, timeout: float = 90.0) -> None:
    from distributed import Client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with Client(address, timeout="5s") as client:
                client.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
                return
        except (OSError, TimeoutError):
            time.sleep(0.5)
    raise TimeoutError(f"{n} workers did not join {address}")


def test_separate_dask_scheduler_and_worker_processes_give_the_local_bits() -> None:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    dask = [sys.executable, "-m", "distributed.cli"]
    procs = [
        subprocess.Popen(
            [*dask[:2], "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
             str(port), "--dashboard-address", ":0"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    try:
        procs.append(
            subprocess.Popen(
                [*dask[:2], "distributed.cli.dask_worker", address, "--nworkers", "2",
                 "--nthreads", "1", "--dashboard-address", ":0"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        _wait_for_workers(address, 2)
        remote = run_trials(SPEC, 3000, seed=9, block_size=500, scheduler=address).outcomes
        result = cli.invoke(
            app,
            ["design", "simulate", str(EXAMPLE), "--trials", "1000", "--seed", "9",
             "--scheduler", address, "--format", "json"],
        )  # fmt: skip
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    _same(remote, run_trials(SPEC, 3000, seed=9, block_size=500).outcomes)
    assert result.exit_code == 0, result.output
    local = cli.invoke(
        app,
        ["design", "simulate", str(EXAMPLE), "--trials", "1000", "--seed", "9", "--format", "json"],
    )
    assert json.loads(result.stdout) == json.loads(local.stdout)


# --- batch clusters (dask-jobqueue) ----------------------------------------------------


def test_cluster_options_are_parsed_and_checked() -> None:
    assert parse_options(["queue=short", "cores=2", "job-extra-directives=x"]) == {
        "queue": "short",
        "cores": 2,
        "job_extra_directives": "x",
    }
    with pytest.raises(InvalidInputError, match="key=value"):
        parse_options(["queue"])
    with pytest.raises(InvalidInputError, match="whole number"):
        parse_options(["cores=two"])
    assert parse_options(["nanny=false"]) == {"nanny": False}
    assert parse_options(["nanny=Yes"]) == {"nanny": True}
    with pytest.raises(InvalidInputError, match="true or false"):
        parse_options(["nanny=maybe"])
    with pytest.raises(InvalidInputError, match="slurm, pbs"):
        build_cluster("lsf", {})


def test_missing_dask_jobqueue_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)  # import raises ImportError
    with pytest.raises(InvalidInputError) as err:
        build_cluster("slurm", {})
    assert err.value.field == "--cluster" and "infantall[hpc]" in err.value.reason
    result = cli.invoke(
        app, ["design", "simulate", str(EXAMPLE), "--trials", "10", "--cluster", "slurm"]
    )
    assert result.exit_code != 0
    assert "infantall[hpc]" in result.stderr


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("slurm", ["#SBATCH -p short", "#SBATCH -t 00:20:00", "#SBATCH -A infant-all"]),
        ("pbs", ["#PBS -q short", "#PBS -l walltime=00:20:00", "#PBS -A infant-all"]),
    ],
)
def test_batch_cluster_is_built_with_the_options_without_submitting(
    kind: str, expected: list[str]
) -> None:
    pytest.importorskip("dask_jobqueue")
    options = parse_options(["queue=short", "walltime=00:20:00", "account=infant-all"])
    with build_cluster(
        kind, {**options, "scheduler_options": {"host": "127.0.0.1", "dashboard_address": ":0"}}
    ) as cluster:
        script = cluster.job_script()
        for line in expected:
            assert line in script
        assert "--nthreads 1" in script  # one single-threaded worker per job
        assert len(cluster.workers) == 0  # nothing submitted before scale()


# --- progress --------------------------------------------------------------------------


def test_progress_bar_is_off_when_not_a_terminal_or_quiet() -> None:
    args = ["design", "simulate", str(EXAMPLE), "--trials", "1000"]
    for extra in ([], ["--quiet"]):
        result = cli.invoke(app, [*args, *extra])
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
        assert "Operating characteristics" in result.stdout


def test_batch_workers_can_run_without_a_nanny() -> None:
    pytest.importorskip("dask_jobqueue")
    options = parse_options(["nanny=false"])
    with build_cluster(
        "slurm", {**options, "scheduler_options": {"host": "127.0.0.1", "dashboard_address": ":0"}}
    ) as cluster:
        assert "--no-nanny" in cluster.job_script()
