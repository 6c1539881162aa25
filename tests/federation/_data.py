"""Simulated multi-node survival data shared by the federation tests (a fixed seed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

NODES = ("COG", "JPLSG", "Interfant")
GROUPS = ("LR", "MR", "HR")


def simulated(seed: int = 21, sizes: tuple[int, ...] = (140, 90, 170)) -> pd.DataFrame:
    """Integer-day times (many ties), two competing causes, three risk groups, two covariates."""
    rng = np.random.default_rng(seed)
    frames = []
    for node, n in zip(NODES, sizes, strict=True):
        group = rng.choice(GROUPS, n, p=[0.3, 0.4, 0.3])
        wbc = rng.lognormal(4.0, 1.2, n)
        kmt2a = rng.integers(0, 2, n)
        lp = (
            0.5 * kmt2a
            + 0.2 * np.log(wbc)
            + np.select([group == "MR", group == "HR"], [0.4, 1.0], 0)
        )
        base = {"COG": 1.0, "JPLSG": 0.7, "Interfant": 1.3}[node]
        t_event = rng.exponential(1500.0 / (base * np.exp(lp - 1.0)))
        t_cens = rng.uniform(200, 3000, n)
        cause = rng.choice([1, 2], n, p=[0.75, 0.25])
        time = np.ceil(np.minimum(t_event, t_cens))
        status = np.where(t_event <= t_cens, cause, 0)
        frames.append(
            pd.DataFrame(
                {
                    "node": node,
                    "time": time,
                    "status": status,
                    "event": (status > 0).astype(int),
                    "group": group,
                    "log_wbc": np.log(wbc),
                    "kmt2a_r": kmt2a,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
