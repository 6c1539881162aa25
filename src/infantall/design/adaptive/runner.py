"""Run many simulated trials, locally or on Dask, reproducibly.

Trials are simulated in blocks of ``block_size``; block ``i`` uses the ``i``-th child of
``numpy.random.SeedSequence(seed)``. A block is the unit of reproducibility, so the results
depend only on ``(spec, n_trials, seed, block_size)``: the same bits whatever the number of
workers, the scheduler, how blocks are grouped into tasks, or the order in which they finish.

On Dask, consecutive blocks are grouped into tasks (:func:`group_blocks`): about
``TASKS_PER_THREAD`` tasks per worker thread, at most ``MAX_BLOCKS_PER_TASK`` blocks each.
Each task returns its blocks' outcomes concatenated (nine arrays, ~77 bytes a trial), and the
client splits them back into blocks for the checkpoint. Measured before grouping (100,000
trials, one task a block): the client and the scheduler, which share the machine with the
workers, spent 0.5-0.7 s CPU on 100 tasks, half the work itself; grouping cuts the tasks
to a few per worker. Many trials per task also keep the graph small
(``dask/distributed#2181``: 100,000 tiny tasks take a minute before any work starts).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from infantall.design.adaptive.cluster import build_cluster
from infantall.design.adaptive.config import TrialSpec
from infantall.design.adaptive.engine import TrialOutcomes, simulate_block
from infantall.design.adaptive.results import SimulationResult
from infantall.errors import InvalidInputError

__all__ = [
    "BLOCK_SIZE",
    "LOCAL_CLUSTER_CONFIG",
    "MAX_BLOCKS_PER_TASK",
    "TASKS_PER_THREAD",
    "Checkpoint",
    "block_plan",
    "dask_client",
    "group_blocks",
    "run_scenarios",
    "run_trials",
    "simulate_blocks",
]

#: Trials per block (the unit of reproducibility).
BLOCK_SIZE = 1000
#: Dask tasks per worker thread: a few, so that a slow block does not leave a worker idle.
TASKS_PER_THREAD = 4
#: Most blocks in one Dask task (a lost task loses at most this much work).
MAX_BLOCKS_PER_TASK = 25

#: Dask settings of the local cluster ``--workers N`` starts. Measured idle, 2 workers, on this
#: 2-core machine (loaded; CPU time): the defaults cost 0.048-0.054 CPU-s/s in the client
#: process (scheduler and nannies live there) and 0.030-0.037 in each worker, 6 % of the
#: machine: the 20 ms event-loop tick, the 10 ms statistical profiler, the GIL and system
#: monitors, and each nanny's 100 ms memory check (a new psutil process object each time).
#: With these settings 0.012-0.014 and 0.005-0.006. The profiler and monitors feed the
#: dashboard, which these runs do not use; the nanny still stops a worker that runs out of
#: memory, within a second; work stealing stays on.
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.tick.interval": "200ms",
    "distributed.worker.memory.monitor-interval": "1s",
    # Dask's default also sets MALLOC_TRIM_THRESHOLD_=65536 in the workers. Any explicit
    # glibc malloc threshold turns off its adaptive mmap threshold, so every array above
    # 128 kB is a fresh mmap: the time-to-event engine then took 1.5-1.7x the CPU in a worker
    # (11x the page faults) of the same run in-process. Single-threaded maths stays.
    "distributed.nanny.pre-spawn-environ": {
        "OMP_NUM_THREADS": 1,
        "MKL_NUM_THREADS": 1,
        "OPENBLAS_NUM_THREADS": 1,
    },
}

Progress = Callable[[int], None]
Plan = list[tuple[int, np.random.SeedSequence]]
Todo = dict[int, tuple[int, Any]]
Done = Callable[[int, int, TrialOutcomes], None]


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


def group_blocks(indices: Sequence[int], threads: int) -> list[list[int]]:
    """Consecutive runs of ``indices``, one per Dask task.

    About :data:`TASKS_PER_THREAD` tasks per worker thread (fewer tasks: less scheduler and
    client work, which shares the machine with the workers; more: better balance at the end
    of the run), never more than :data:`MAX_BLOCKS_PER_TASK` blocks in one.
    """
    per_task = -(-len(indices) // (TASKS_PER_THREAD * max(threads, 1)))
    per_task = min(max(per_task, 1), MAX_BLOCKS_PER_TASK)
    return [list(indices[k : k + per_task]) for k in range(0, len(indices), per_task)]


def simulate_blocks(spec: TrialSpec, blocks: list[tuple[int, Any]]) -> TrialOutcomes:
    """One Dask task: the ``(size, seed sequence)`` blocks simulated in turn, outcomes
    concatenated in order (compact arrays, not one object per block or per trial)."""
    return TrialOutcomes.concatenate([simulate_block(spec, size, ss) for size, ss in blocks])


def _split(part: TrialOutcomes, sizes: list[int]) -> list[TrialOutcomes]:
    """The blocks of a task's concatenated outcomes."""
    edges = np.cumsum([0, *sizes])
    return [
        TrialOutcomes(*(getattr(part, f)[lo:hi] for f in TrialOutcomes.__slots__))
        for lo, hi in itertools.pairwise(edges)
    ]


def _run_local(jobs: list[tuple[TrialSpec, Todo]], done: Done) -> None:
    for j, (spec, todo) in enumerate(jobs):
        for i, (size, ss) in todo.items():
            done(j, i, simulate_block(spec, size, ss))


def _threads(client: Any) -> int:
    """Worker threads the run can count on: those connected, or the workers a local or batch
    cluster was asked for (batch jobs may still be queued when the run starts)."""
    requested = getattr(getattr(client, "cluster", None), "worker_spec", None)
    return int(max(sum(client.nthreads().values()), len(requested or ()), 1))


def _run_dask(jobs: list[tuple[TrialSpec, Todo]], client: Any, done: Done) -> None:
    from distributed import as_completed

    threads = _threads(client)
    # the specification is small: send it with each task (scattering it under a content
    # key races with the release of an earlier run's future: "lost dependencies")
    tasks: dict[str, tuple[int, list[int]]] = {}
    futures = []
    for j, (spec, todo) in enumerate(jobs):
        for group in group_blocks(list(todo), threads):
            fut = client.submit(simulate_blocks, spec, [todo[i] for i in group], pure=False)
            tasks[fut.key] = (j, group)
            futures.append(fut)
    for fut in as_completed(futures):  # type: ignore[no-untyped-call]
        j, group = tasks[fut.key]
        part = fut.result()
        fut.release()  # the worker may drop the task's result now
        for i, block in zip(group, _split(part, [jobs[j][1][i][0] for i in group]), strict=True):
            done(j, i, block)


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
    """Simulate ``n_trials`` trials of ``spec`` (options as in :func:`run_scenarios`).

    The same ``(spec, n_trials, seed, block_size)`` gives bit-identical outcomes whether run
    locally, on ``workers`` processes, on a scheduler or a batch cluster, in one go or
    resumed from a checkpoint, whatever the grouping of blocks into tasks.
    """
    return run_scenarios(
        [spec],
        n_trials,
        seed,
        block_size=block_size,
        client=client,
        workers=workers,
        scheduler=scheduler,
        cluster=cluster,
        cluster_options=cluster_options,
        cluster_jobs=cluster_jobs,
        checkpoint=checkpoint,
        progress=progress,
    )[0]


def run_scenarios(
    specs: Sequence[TrialSpec],
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
) -> list[SimulationResult]:
    """Simulate ``n_trials`` trials of each of ``specs`` in one run.

    Every scenario uses the same ``seed`` (common random numbers), so result ``j`` is the
    bits of ``run_trials(specs[j], n_trials, seed)``. On Dask the blocks of all scenarios
    are submitted at once, so no worker waits for a scenario's last block.

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
        simulated again (:class:`Checkpoint`; files are named by design and seed, so the
        scenarios can share one directory).
    progress
        Called with the number of trials finished after each block or task.
    """
    if not specs:
        raise InvalidInputError("scenarios", "give at least one design", "missing")
    plan = block_plan(n_trials, seed, block_size)
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    stores = [
        None if checkpoint is None else Checkpoint(checkpoint, spec, root, block_size)
        for spec in specs
    ]
    parts: list[dict[int, TrialOutcomes]] = [{} for _ in specs]

    def done(j: int, i: int, part: TrialOutcomes) -> None:
        parts[j][i] = part
        store = stores[j]
        if store is not None:
            store.save(i, plan[i][0], part)
        if progress is not None:
            progress(plan[i][0])

    jobs = [(spec, _todo(plan, stores[j], parts[j], progress)) for j, spec in enumerate(specs)]
    backend = {"workers": workers, "scheduler": scheduler, "cluster": cluster}
    if client is not None:
        _run_dask(jobs, client, done)
    elif any(v is not None for v in backend.values()):
        with dask_client(
            workers=workers,
            scheduler=scheduler,
            cluster=cluster,
            cluster_options=cluster_options,
            cluster_jobs=cluster_jobs,
        ) as made:
            _run_dask(jobs, made, done)
    else:
        _run_local(jobs, done)
    seed_repr = seed.entropy if isinstance(seed, np.random.SeedSequence) else seed
    return [
        SimulationResult(
            spec=spec,
            n_trials=n_trials,
            seed=int(seed_repr) if isinstance(seed_repr, int) else 0,
            block_size=block_size,
            # pop each scenario's blocks as it is joined: the peak is one copy, not two
            outcomes=TrialOutcomes.concatenate([parts[j].pop(i) for i in range(len(plan))]),
        )
        for j, spec in enumerate(specs)
    ]


def _todo(
    plan: Plan,
    store: Checkpoint | None,
    parts: dict[int, TrialOutcomes],
    progress: Progress | None,
) -> Todo:
    """The blocks not found in the checkpoint (found ones go to ``parts``)."""
    todo: Todo = {}
    for i, (size, ss) in enumerate(plan):
        found = None if store is None else store.load(i, size)
        if found is None:
            # a fresh copy for each scenario: ``spawn`` advances a SeedSequence's state
            todo[i] = (
                size,
                np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key, pool_size=ss.pool_size),
            )
        else:
            parts[i] = found
            if progress is not None:
                progress(size)
    return todo


@contextmanager
def dask_client(
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    cluster: str | None = None,
    cluster_options: dict[str, Any] | None = None,
    cluster_jobs: int = 1,
) -> Iterator[Any]:
    """A ``distributed.Client`` on a running scheduler, a batch cluster, or a local cluster
    of ``workers`` single-threaded worker processes (:data:`LOCAL_CLUSTER_CONFIG`; closed on
    exit). Reuse one for several runs (a calibration, then the simulation) to start the
    workers once."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="3s")  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise InvalidInputError(
                "scheduler", f"cannot reach a Dask scheduler at {scheduler}: {exc}", "unreachable"
            ) from exc
        with client:
            yield client
        return
    if cluster is not None:
        if cluster_jobs < 1:
            raise InvalidInputError("cluster_jobs", "must be >= 1", "out_of_range")
        with build_cluster(cluster, cluster_options) as hpc:
            hpc.scale(jobs=cluster_jobs)
            with Client(hpc) as client:  # type: ignore[no-untyped-call]
                yield client
        return
    if workers is None or workers < 1:
        raise InvalidInputError("workers", "must be >= 1", "out_of_range")
    with (
        dask.config.set(LOCAL_CLUSTER_CONFIG),
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as local,
        Client(local) as client,  # type: ignore[no-untyped-call]
    ):
        yield client
