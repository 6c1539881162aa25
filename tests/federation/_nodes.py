"""Local nodes over the simulated data (the same payloads as over HTTP)."""

from __future__ import annotations

import pandas as pd

from infantall.services.federation import LocalNode, NodePolicy, node_data_from_frames

from ._data import NODES, simulated


def frames(data: pd.DataFrame, node: str) -> dict[str, pd.DataFrame]:
    d = data[data.node == node].reset_index(drop=True)
    d = d.assign(USUBJID=[f"{node}-P{i:04d}" for i in range(len(d))])
    efs = d.assign(status=d.event)
    return {"EFS": efs.drop(columns=["node"]), "CIR": d.drop(columns=["node"])}


def local_nodes(
    data: pd.DataFrame | None = None, policy: NodePolicy | None = None, **versions: str
) -> list[LocalNode]:
    data = simulated() if data is None else data
    return [
        LocalNode(
            node_data_from_frames(
                n,
                frames(data, n),
                software_version=versions.get(n, "1.0"),
                dictionary_version=versions.get(f"{n}-dict", "d1"),
            ),
            policy or NodePolicy(),
        )
        for n in NODES
    ]
