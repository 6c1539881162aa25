"""Dask clusters on HPC batch systems (SLURM, PBS) through the optional dask-jobqueue.

``infantall design simulate ... --cluster slurm --cluster-option queue=short
--cluster-option walltime=01:00:00 --cluster-option jobs=4`` builds a ``SLURMCluster`` (each
batch job one Dask worker), asks for the jobs, and runs the blocks of trials on them; the
results are the same bits as on one laptop (the block is the unit of reproducibility).
Install the extra first: ``pip install 'infantall[hpc]'``.
"""

from __future__ import annotations

from typing import Any

from infantall.errors import InvalidInputError

__all__ = ["CLUSTER_KINDS", "build_cluster", "parse_options"]

#: ``--cluster`` value -> dask-jobqueue class.
CLUSTER_KINDS = {"slurm": "SLURMCluster", "pbs": "PBSCluster"}
#: Defaults for one single-threaded worker per job (what the simulation needs).
_DEFAULTS: dict[str, Any] = {"cores": 1, "processes": 1, "memory": "2GB"}
_INTEGER = {"cores", "processes", "n_workers", "jobs"}
#: ``nanny=false`` starts the worker without a nanny process, so without Dask's default
#: ``MALLOC_TRIM_THRESHOLD_`` (it costs the time-to-event engine 1.5-1.7x its CPU time).
_BOOLEAN = {"nanny"}
_TRUTH = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def parse_options(items: list[str]) -> dict[str, Any]:
    """``["queue=short", "cores=2"]`` -> ``{"queue": "short", "cores": 2}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise InvalidInputError(
                "--cluster-option", f"{item!r} is not of the form key=value", "invalid"
            )
        if key in _BOOLEAN:
            if value.strip().lower() not in _TRUTH:
                raise InvalidInputError(
                    "--cluster-option", f"{key} must be true or false, got {value!r}", "invalid"
                )
            out[key] = _TRUTH[value.strip().lower()]
        elif key in _INTEGER:
            try:
                out[key] = int(value)
            except ValueError:
                raise InvalidInputError(
                    "--cluster-option", f"{key} must be a whole number, got {value!r}", "invalid"
                ) from None
        else:
            out[key] = value
    return out


def build_cluster(kind: str, options: dict[str, Any] | None = None) -> Any:
    """A dask-jobqueue cluster of ``kind`` (no job is submitted until ``scale``)."""
    if kind not in CLUSTER_KINDS:
        raise InvalidInputError(
            "--cluster", f"must be one of {', '.join(CLUSTER_KINDS)}, got {kind!r}", "invalid"
        )
    try:
        # optional extra 'hpc', imported only when a cluster is asked for
        import dask_jobqueue as jobqueue
    except ImportError:
        raise InvalidInputError(
            "--cluster",
            f"{kind} clusters need the optional package dask-jobqueue: "
            "pip install 'infantall[hpc]'",
            "unsupported",
        ) from None
    settings = {**_DEFAULTS, **(options or {})}
    try:
        return getattr(jobqueue, CLUSTER_KINDS[kind])(**settings)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError("--cluster-option", str(exc), "invalid") from exc
