"""Questions asked of a selection of the evidence base: one function each.

* :func:`selection_subgroups` — does an endpoint differ between subgroups (study group, era,
  protocol type, population) of the selected trials?
* :func:`selection_regression` — does it change with trial-level moderators (accrual
  mid-year, HSCT share, ...)? Trials without a moderator are left out, and named.

The CLI (``infantall meta --by``, ``infantall meta-regress``) and the report's synthesis
sections both call these and only format the results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from infantall.errors import InvalidInputError
from infantall.synthesis._json import frame_records, json_safe
from infantall.synthesis.evidence_inputs import MODERATORS, SUBGROUP_COLUMNS, Selection
from infantall.synthesis.inputs import VarianceSource
from infantall.synthesis.metareg import MetaRegression, meta_regression
from infantall.synthesis.model import Method
from infantall.synthesis.subgroups import SubgroupAnalysis, subgroup_analysis
from infantall.synthesis.transforms import Transform

__all__ = [
    "SelectionRegression",
    "selection_regression",
    "selection_subgroups",
]


def selection_subgroups(
    sel: Selection,
    by: str,
    *,
    variance: VarianceSource | str = VarianceSource.auto,
    allow_mixed_horizons: bool = False,
    transform: Transform | str = Transform.logit,
    method: Method | str = Method.REML,
    knha: bool = False,
) -> SubgroupAnalysis:
    """Pool the selection within each level of ``by`` and test the differences.

    Subgroups are ordered by mean accrual mid-year (:meth:`Selection.levels`); when a trial
    contributes to more than one subgroup the notes end with a warning
    (:meth:`Selection.overlap_note`).

    Raises
    ------
    InvalidInputError
        ``by`` not one of :data:`~infantall.synthesis.evidence_inputs.SUBGROUP_COLUMNS`
        (``unknown_subgroup``); the errors of :func:`subgroup_analysis`.
    """
    if by not in SUBGROUP_COLUMNS:
        raise InvalidInputError(
            "by",
            f"unknown subgroup {by!r}; choose from {', '.join(SUBGROUP_COLUMNS)}",
            "unknown_subgroup",
        )
    sub = subgroup_analysis(
        sel.inputs(variance=variance, allow_mixed_horizons=allow_mixed_horizons),
        sel.table[by].astype(str).tolist(),
        by=by,
        order=sel.levels(by),
        transform=transform,
        method=method,
        knha=knha,
    )
    overlap = sel.overlap_note(by)
    if overlap is None:
        return sub
    return dataclasses.replace(sub, notes=(*sub.notes, overlap))


@dataclass(frozen=True, slots=True, eq=False)
class SelectionRegression:
    """A meta-regression of a selection on trial-level moderators.

    Attributes
    ----------
    regression
        The fitted :class:`~infantall.synthesis.metareg.MetaRegression`.
    used
        The selection's rows that entered (every moderator known), in order.
    on
        The moderators.
    notes
        The selection's notes, the trials left out, then the model's own notes.
    """

    regression: MetaRegression
    used: pd.DataFrame
    on: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def summary(self) -> pd.DataFrame:
        """The coefficient table."""
        return self.regression.coefficients

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: model statistics, coefficients, studies used and notes."""
        out: dict[str, Any] = json_safe(
            {
                **self.regression.as_record(),
                "on": list(self.on),
                "studies": self.used["study"].astype(str).tolist(),
                "coefficients": frame_records(self.summary),
                "notes": list(self.notes),
            }
        )
        return out


def selection_regression(
    sel: Selection,
    on: Sequence[str],
    *,
    allow_mixed_horizons: bool = False,
    transform: Transform | str = Transform.logit,
    method: Method | str = Method.REML,
    knha: bool = False,
) -> SelectionRegression:
    """Mixed-effects meta-regression of the selection on the moderators ``on``.

    Trials where a moderator is unknown are left out and named in the notes.

    Raises
    ------
    InvalidInputError
        A moderator not in :data:`~infantall.synthesis.evidence_inputs.MODERATORS`
        (``unknown_moderator``); the errors of :func:`meta_regression`.
    """
    bad = [m for m in on if m not in MODERATORS]
    if bad:
        raise InvalidInputError(
            "on",
            f"unknown moderator {bad[0]!r}; choose from {', '.join(MODERATORS)}",
            "unknown_moderator",
        )
    cols = list(on)
    table = sel.table
    complete = table[cols].notna().all(axis=1)
    notes = list(sel.notes)
    if not complete.all():
        notes.append(
            f"{int((~complete).sum())} trial(s) without {', '.join(cols)} left out: "
            + ", ".join(table.loc[~complete, "study"])
            + "."
        )
    inputs = sel.inputs(allow_mixed_horizons=allow_mixed_horizons).subset(complete.to_numpy())
    mods = table.loc[complete, cols].reset_index(drop=True)
    reg = meta_regression(inputs, mods, transform=transform, method=method, knha=knha)
    return SelectionRegression(
        regression=reg,
        used=table[complete].reset_index(drop=True),
        on=tuple(cols),
        notes=(*notes, *reg.notes[len(inputs.notes) :]),
    )
