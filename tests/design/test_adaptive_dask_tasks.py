"""Blocks grouped into Dask tasks, several scenarios in one run, one client for several runs:
the bits stay those of the plain in-process run (the block is the unit of reproducibility)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.design import adaptive
from infantall.design.adaptive import (
    calibrate_scenarios,
    calibrate_superiority,
    dask_client,
    load_spec,
    run_scenarios,
    run_trials,
)
from infantall.design.adaptive.engine import TrialOutcomes
from infantall.design.adaptive.runner import (
    LOCAL_CLUSTER_CONFIG,
    MAX_BLOCKS_PER_TASK,
    TASKS_PER_THREAD,
    block_plan,
    group_blocks,
    simulate_blocks,
)
from infantall.errors import InvalidInputError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "design"
SPEC = load_spec(EXAMPLES / "pick-a-winner-binary.yaml")
TTE = load_spec(EXAMPLES / "time-to-event.yaml")


def _same(a: TrialOutcomes, b: TrialOutcomes) -> None:
    for field in TrialOutcomes.__slots__:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[int, Any]]:
    """In-process clusters of 1 and 2 single-threaded workers (fast to start)."""
    from distributed import Client, LocalCluster

    made = {
        n: LocalCluster(n_workers=n, threads_per_worker=1, processes=False, dashboard_address=":0")
        for n in (1, 2)
    }
    out = {n: Client(c) for n, c in made.items()}  # type: ignore[no-untyped-call]
    yield out
    for client in out.values():
        client.close()
    for cluster in made.values():
        cluster.close()


@pytest.mark.parametrize("threads", [1, 2, 3, 8, 40])
@pytest.mark.parametrize("n_blocks", [1, 7, 30, 1000])
def test_groups_cover_the_blocks_in_order_and_are_bounded(n_blocks: int, threads: int) -> None:
    indices = list(range(5, 5 + n_blocks))
    groups = group_blocks(indices, threads)
    assert [i for g in groups for i in g] == indices
    assert all(1 <= len(g) <= MAX_BLOCKS_PER_TASK for g in groups)
    # about TASKS_PER_THREAD tasks a thread, unless the blocks run out or the cap binds
    assert len(groups) <= max(TASKS_PER_THREAD * threads, -(-n_blocks // MAX_BLOCKS_PER_TASK))
    assert len(groups) >= min(n_blocks, TASKS_PER_THREAD * threads) // 2


def test_a_task_of_blocks_is_the_blocks_one_by_one() -> None:
    plan = block_plan(700, 3, 200)
    task = simulate_blocks(SPEC, plan)
    assert task.n_total.size == 700
    _same(task, run_trials(SPEC, 700, 3, block_size=200).outcomes)


@pytest.mark.parametrize("workers", [1, 2])
def test_grouped_dask_run_gives_the_local_bits_and_checkpoints_every_block(
    clients: dict[int, Any], workers: int, tmp_path: Path
) -> None:
    # 30 blocks of 100 trials: 8 (1 worker) or 4 (2 workers) blocks a task, last one shorter
    local = run_trials(SPEC, 2950, seed=11, block_size=100).outcomes
    seen: list[int] = []
    remote = run_trials(
        SPEC,
        2950,
        seed=11,
        block_size=100,
        client=clients[workers],
        checkpoint=tmp_path,
        progress=seen.append,
    ).outcomes
    _same(remote, local)
    assert sum(seen) == 2950
    assert len(list(tmp_path.glob("*.npz"))) == 30
    # a rerun finds every block on disk and simulates nothing
    resumed = run_trials(SPEC, 2950, seed=11, block_size=100, checkpoint=tmp_path).outcomes
    _same(resumed, local)


def test_several_scenarios_in_one_run_are_each_their_own_run(clients: dict[int, Any]) -> None:
    specs = [SPEC, SPEC.with_null(), TTE]
    alone = [run_trials(s, 1200, seed=4, block_size=200).outcomes for s in specs]
    for client in (None, clients[2]):
        together = run_scenarios(specs, 1200, seed=4, block_size=200, client=client)
        assert [r.spec for r in together] == specs
        for res, ref in zip(together, alone, strict=True):
            _same(res.outcomes, ref)


def test_calibrating_several_scenarios_at_once_matches_one_at_a_time(
    clients: dict[int, Any],
) -> None:
    lower = SPEC.model_copy(update={"arms": [a.model_copy(update={"p": 0.3}) for a in SPEC.arms]})
    together = calibrate_scenarios([SPEC, lower], 0.1, 2000, seed=3, client=clients[2])
    for spec, cal in zip([SPEC, lower], together, strict=True):
        alone = calibrate_superiority(spec, 0.1, 2000, seed=3)
        assert cal == alone
        assert cal.type1_error <= 0.1
    with pytest.raises(InvalidInputError, match=r"between 0 and 0\.5"):
        calibrate_scenarios([SPEC], 0.7, 100)
    with pytest.raises(InvalidInputError) as err:
        run_scenarios([], 100)
    assert err.value.field == "scenarios"


def test_one_local_cluster_serves_a_calibration_then_a_simulation() -> None:
    with dask_client(workers=1) as client:
        # the worker process runs with the lean settings (no profiler, slower tick)
        settings = client.run(lambda: {k: dask.config.get(k) for k in LOCAL_CLUSTER_CONFIG})
        assert list(settings.values()) == [LOCAL_CLUSTER_CONFIG]
        # no malloc threshold of Dask's own in the worker (it made the TTE engine page-fault)
        trim = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        assert list(trim.values()) == [os.environ.get("MALLOC_TRIM_THRESHOLD_")]
        cal = calibrate_superiority(SPEC, 0.1, 1000, seed=2, client=client)
        res = run_trials(SPEC.with_threshold(cal.threshold), 1000, seed=3, client=client)
    assert cal == calibrate_superiority(SPEC, 0.1, 1000, seed=2)
    _same(res.outcomes, run_trials(SPEC.with_threshold(cal.threshold), 1000, seed=3).outcomes)
    with pytest.raises(InvalidInputError) as err, dask_client(workers=0):
        pass
    assert err.value.field == "workers"


def test_cli_calibrates_and_simulates_on_one_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[dict[str, Any]] = []
    real = adaptive.dask_client

    def counting(**kwargs: Any) -> Any:
        started.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(adaptive, "dask_client", counting)
    args = ["design", "simulate", str(EXAMPLES / "pick-a-winner-binary.yaml"), "--trials", "1500",
            "--calibrate", "0.1", "--format", "json"]  # fmt: skip
    cli = CliRunner()
    remote = cli.invoke(app, [*args, "--workers", "1"])
    assert remote.exit_code == 0, remote.output
    assert [s["workers"] for s in started] == [1]  # one cluster for both runs
    assert json.loads(remote.stdout) == json.loads(cli.invoke(app, args).stdout)
