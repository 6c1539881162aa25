"""Run many simulated trials, locally or on Dask, reproducibly.

Trials are simulated in blocks of ``block_size``; block ``i`` uses the ``i``-th child of
``numpy.random.SeedSequence(seed)``. A block is the unit of work, so the results depend only
on ``(spec, n_trials, seed, block_size)``: the same bits whatever the number of workers, the
scheduler, or the order in which blocks finish. Many trials per task keep the Dask graph
small (``dask/distributed#2181``: 100,000 tiny tasks take a minute before any work starts).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from infantall.design.adaptive.cluster import build_cluster
from infantall.design.adaptive.config import TrialSpec
from infantall.design.adaptive.engine import TrialOutcomes, simulate_block
from infantall.design.adaptive.results import SimulationResult
from infantall.errors import InvalidInputError

__all__ = ["BLOCK_SIZE", "Checkpoint", "block_plan", "run_trials"]

#: Trials per block (the unit of reproducibility and of parallel work).
BLOCK_SIZE = 1000

Progress = Callable[[int], None]
Plan = list[tuple[int, np.random.SeedSequence]]
Done = Callable[[int, TrialOutcomes], None]


class Checkpoint:
    """Block results on disk, one ``.npz`` file per finished block.

    A file is named by block index, block size, a digest of the specification and block
    size, and the seed (``block-000003-n1000-3f2a...-seed7.npz``); a rerun with the same
    arguments loads the finished blocks and simulates only the others, giving the same
    outcomes as an uninterrupted run. Files are written to a temporary name and renamed,
    so an interrupted write never leaves a half file under a block's name.
    """

    def __init__(
        self, directory: str | Path, spec: TrialSpec, seed: np.random.SeedSequence, block_size: int
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        text = f"{spec.model_dump_json()}|block_size={block_size}"
        self.digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        spawn = "-".join(str(k) for k in seed.spawn_key)
        self.seed = f"{seed.entropy}{'-' + spawn if spawn else ''}"

    def path(self, index: int, size: int) -> Path:
        name = f"block-{index:06d}-n{size}-{self.digest}-seed{self.seed}.npz"
        return self.directory / name

    def load(self, index: int, size: int) -> TrialOutcomes | None:
        path = self.path(index, size)
        if not path.exists():
            return None
        with np.load(path) as data:
            return TrialOutcomes(*(data[f] for f in TrialOutcomes.__slots__))

    def save(self, index: int, size: int, part: TrialOutcomes) -> None:
        path = self.path(index, size)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **{f: getattr(part, f) for f in TrialOutcomes.__slots__})
        os.replace(tmp, path)


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


def _run_local(spec: TrialSpec, plan: dict[int, tuple[int, Any]], done: Done) -> None:
    for i, (size, ss) in plan.items():
        done(i, simulate_block(spec, size, ss))


def _run_dask(spec: TrialSpec, plan: dict[int, tuple[int, Any]], client: Any, done: Done) -> None:
    from distributed import as_completed

    # the specification is small: send it with each task (scattering it under a content
    # key races with the release of an earlier run's future: "lost dependencies")
    futures = {
        i: client.submit(simulate_block, spec, size, ss, pure=False)
        for i, (size, ss) in plan.items()
    }
    order = {f.key: i for i, f in futures.items()}
    for fut in as_completed(list(futures.values())):  # type: ignore[no-untyped-call]
        done(order[fut.key], fut.result())


def run_trials(
    spec: TrialSpec,
    n_trials: int = 10_000,
    seed: int | np.random.SeedSequence = 0,
    *,
    block_size: int = BLOCK_SIZE,
    client: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    cluster: str | None = None,
    cluster_options: dict[str, Any] | None = None,
    cluster_jobs: int = 1,
    checkpoint: str | Path | None = None,
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
    cluster, cluster_options, cluster_jobs
        ``"slurm"`` or ``"pbs"``: a dask-jobqueue cluster built with ``cluster_options``
        (``queue``, ``walltime``, ``account``, ``memory``...) and scaled to ``cluster_jobs``
        batch jobs (:mod:`infantall.design.adaptive.cluster`).
    checkpoint
        A directory where each finished block is written; blocks found there are not
        simulated again (:class:`Checkpoint`).
    progress
        Called with the number of trials finished after each block.

    The same ``(spec, n_trials, seed, block_size)`` gives bit-identical outcomes whether run
    locally, on ``workers`` processes, on a scheduler or a batch cluster, in one go or
    resumed from a checkpoint.
    """
    plan = block_plan(n_trials, seed, block_size)
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    store = None if checkpoint is None else Checkpoint(checkpoint, spec, root, block_size)
    parts: dict[int, TrialOutcomes] = {}

    def done(i: int, part: TrialOutcomes) -> None:
        parts[i] = part
        if store is not None:
            store.save(i, plan[i][0], part)
        if progress is not None:
            progress(plan[i][0])

    todo: dict[int, tuple[int, Any]] = {}
    for i, (size, ss) in enumerate(plan):
        found = None if store is None else store.load(i, size)
        if found is None:
            todo[i] = (size, ss)
        else:
            parts[i] = found
            if progress is not None:
                progress(size)
    if client is not None:
        _run_dask(spec, todo, client, done)
    elif scheduler is not None or workers is not None or cluster is not None:
        backend = {"workers": workers, "scheduler": scheduler, "cluster": cluster}
        _with_client(spec, todo, backend, (cluster_options or {}, cluster_jobs), done)
    else:
        _run_local(spec, todo, done)
    seed_repr = seed.entropy if isinstance(seed, np.random.SeedSequence) else seed
    return SimulationResult(
        spec=spec,
        n_trials=n_trials,
        seed=int(seed_repr) if isinstance(seed_repr, int) else 0,
        block_size=block_size,
        outcomes=TrialOutcomes.concatenate([parts[i] for i in range(len(plan))]),
    )


def _with_client(
    spec: TrialSpec,
    plan: dict[int, tuple[int, Any]],
    backend: dict[str, Any],
    batch: tuple[dict[str, Any], int],
    done: Done,
) -> None:
    from distributed import Client, LocalCluster

    if backend["scheduler"] is not None:
        address = backend["scheduler"]
        try:
            client = Client(address, timeout="3s")  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise InvalidInputError(
                "scheduler", f"cannot reach a Dask scheduler at {address}: {exc}", "unreachable"
            ) from exc
        with client:
            _run_dask(spec, plan, client, done)
        return
    if backend["cluster"] is not None:
        options, jobs = batch
        if jobs < 1:
            raise InvalidInputError("cluster_jobs", "must be >= 1", "out_of_range")
        with build_cluster(backend["cluster"], options) as hpc:
            hpc.scale(jobs=jobs)
            with Client(hpc) as client:  # type: ignore[no-untyped-call]
                _run_dask(spec, plan, client, done)
        return
    workers = backend["workers"]
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
        _run_dask(spec, plan, client, done)
