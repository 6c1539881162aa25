"""Run many simulated trials, locally or on Dask, reproducibly.

Trials are simulated in blocks of ``block_size``; block ``i`` uses the ``i``-th child of
``numpy.random.SeedSequence(seed)``. A block is the unit of work, so the results depend only
on ``(spec, n_trials, seed, block_size)``: the same bits whatever the number of workers, the
scheduler, or the order in which blocks finish. Many trials per task keep the Dask graph
small (``dask/distributed#2181``: 100,000 tiny tasks take a minute before any work starts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from infantall.design.adaptive.config import TrialSpec
from infantall.design.adaptive.engine import TrialOutcomes, simulate_block
from infantall.design.adaptive.results import SimulationResult
from infantall.errors import InvalidInputError

__all__ = ["BLOCK_SIZE", "block_plan", "run_trials"]

#: Trials per block (the unit of reproducibility and of parallel work).
BLOCK_SIZE = 1000

Progress = Callable[[int], None]


def block_plan(
    n_trials: int, seed: int | np.random.SeedSequence, block_size: int = BLOCK_SIZE
) -> list[tuple[int, np.random.SeedSequence]]:
    """(size, seed sequence) of each block."""
    if n_trials < 1:
        raise InvalidInputError("trials", "must be >= 1", "out_of_range")
    if block_size < 1:
        raise InvalidInputError("block_size", "must be >= 1", "out_of_range")
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    n_blocks = -(-n_trials // block_size)
    sizes = [block_size] * (n_blocks - 1) + [n_trials - block_size * (n_blocks - 1)]
    return list(zip(sizes, root.spawn(n_blocks), strict=True))


def _run_local(
    spec: TrialSpec, plan: list[tuple[int, np.random.SeedSequence]], progress: Progress | None
) -> list[TrialOutcomes]:
    parts = []
    for size, ss in plan:
        parts.append(simulate_block(spec, size, ss))
        if progress is not None:
            progress(size)
    return parts


def _run_dask(
    spec: TrialSpec,
    plan: list[tuple[int, np.random.SeedSequence]],
    client: Any,
    progress: Progress | None,
) -> list[TrialOutcomes]:
    from distributed import as_completed

    # the specification is small: send it with each task (scattering it under a content
    # key races with the release of an earlier run's future: "lost dependencies")
    futures = [client.submit(simulate_block, spec, size, ss, pure=False) for size, ss in plan]
    order = {f.key: i for i, f in enumerate(futures)}
    parts: list[TrialOutcomes | None] = [None] * len(futures)
    for fut in as_completed(futures):  # type: ignore[no-untyped-call]
        i = order[fut.key]
        parts[i] = fut.result()
        if progress is not None:
            progress(plan[i][0])
    return [p for p in parts if p is not None]


def run_trials(
    spec: TrialSpec,
    n_trials: int = 10_000,
    seed: int | np.random.SeedSequence = 0,
    *,
    block_size: int = BLOCK_SIZE,
    client: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """Simulate ``n_trials`` trials of ``spec``.

    Parameters
    ----------
    client
        A ``distributed.Client`` to run the blocks on.
    workers
        Start a local Dask cluster with this many single-threaded worker processes.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``).
    progress
        Called with the number of trials finished after each block.

    The same ``(spec, n_trials, seed, block_size)`` gives bit-identical outcomes whether run
    locally, on ``workers`` processes or on a scheduler.
    """
    plan = block_plan(n_trials, seed, block_size)
    if client is not None:
        parts = _run_dask(spec, plan, client, progress)
    elif scheduler is not None or workers is not None:
        parts = _with_client(spec, plan, workers, scheduler, progress)
    else:
        parts = _run_local(spec, plan, progress)
    seed_repr = seed.entropy if isinstance(seed, np.random.SeedSequence) else seed
    return SimulationResult(
        spec=spec,
        n_trials=n_trials,
        seed=int(seed_repr) if isinstance(seed_repr, int) else 0,
        block_size=block_size,
        outcomes=TrialOutcomes.concatenate(parts),
    )


def _with_client(
    spec: TrialSpec,
    plan: list[tuple[int, np.random.SeedSequence]],
    workers: int | None,
    scheduler: str | None,
    progress: Progress | None,
) -> list[TrialOutcomes]:
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="3s")  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise InvalidInputError(
                "scheduler", f"cannot reach a Dask scheduler at {scheduler}: {exc}", "unreachable"
            ) from exc
        with client:
            return _run_dask(spec, plan, client, progress)
    if workers is None or workers < 1:
        raise InvalidInputError("workers", "must be >= 1", "out_of_range")
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        return _run_dask(spec, plan, client, progress)
