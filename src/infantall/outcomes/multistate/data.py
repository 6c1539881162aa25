"""Multi-state data in counting-process form: ``(id, tstart, tstop, from_state, to_state)``.

Two ways in, one validated type out (:class:`MultiStateData`):

* :func:`multistate_data` reads a frame shaped as R ``survival::tmerge`` produces it — one row
  per ``(tstart, tstop]`` interval of a patient, ``state`` the state entered at ``tstop`` (or
  the censoring label) — with the state before a patient's first row named by ``initial``;
* :func:`infant_all_data` (in :mod:`.infant`) walks domain histories through the infant-ALL
  transition matrix :data:`INFANT_ALL`.

Validation happens once, here: a transition not in the matrix, time going backwards within an
id, overlapping intervals and a row starting in a state the patient never entered are each an
:class:`~infantall.errors.InvalidInputError` naming the id and the (1-based) data row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from infantall.errors import InvalidInputError

__all__ = [
    "MULTISTATE_ERROR_CODES",
    "MultiStateData",
    "TransitionMatrix",
    "multistate_data",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Codes of the errors raised while building multi-state data.
MULTISTATE_ERROR_CODES: dict[str, str] = {
    "transition_not_allowed": "a row makes a transition the transition matrix does not allow",
    "time_backwards": "a row's tstop is not after its tstart",
    "overlapping_intervals": "a row starts before the previous row of the same id ends",
    "state_never_entered": "a row starts in a state the patient never entered",
    "unknown_state": "a state is not one of the model's states",
    "missing_value": "an id, time or state is missing",
}


@dataclass(frozen=True, slots=True)
class TransitionMatrix:
    """The states of a model (in display order) and the transitions allowed between them."""

    states: tuple[str, ...]
    transitions: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if len(set(self.states)) != len(self.states):
            raise InvalidInputError("states", "state names must be unique", "bad_option")
        known = set(self.states)
        for a, b in self.transitions:
            if a not in known or b not in known or a == b:
                raise InvalidInputError(
                    "transitions",
                    f"{a!r} -> {b!r} does not join two different states of {self.states}",
                    "unknown_state",
                )

    @classmethod
    def from_mapping(cls, mapping: dict[str, Sequence[str]]) -> TransitionMatrix:
        """Build from ``{from_state: [to_states]}``; states in order of first mention."""
        states: list[str] = []
        for a, targets in mapping.items():
            for s in (a, *targets):
                if s not in states:
                    states.append(s)
        pairs = tuple((a, b) for a, targets in mapping.items() for b in targets)
        return cls(tuple(states), pairs)

    @property
    def absorbing(self) -> tuple[str, ...]:
        """States with no transition out."""
        out = {a for a, _ in self.transitions}
        return tuple(s for s in self.states if s not in out)

    def as_frame(self) -> pd.DataFrame:
        """The matrix as a states × states table of 0/1 (1 = allowed)."""
        m = pd.DataFrame(0, index=list(self.states), columns=list(self.states))
        for a, b in self.transitions:
            m.loc[a, b] = 1
        return m


@dataclass(frozen=True, slots=True)
class MultiStateData:
    """Validated counting-process rows; ``to_state`` is -1 for a censored row.

    ``from_state``/``to_state`` index ``matrix.states``; rows of one id are contiguous and
    in time order; ``time_unit`` names the unit of ``tstart``/``tstop``; ``covariates``
    holds the other columns of the input, one row per row.
    """

    id: npt.NDArray[np.object_]
    tstart: FloatArray
    tstop: FloatArray
    from_state: IntArray
    to_state: IntArray
    matrix: TransitionMatrix
    initial: str
    time_unit: str = "time"
    #: Per-row covariates (the input's other columns), aligned with the rows; or None.
    covariates: pd.DataFrame | None = None

    @property
    def states(self) -> tuple[str, ...]:
        """State names in order."""
        return self.matrix.states

    @property
    def n_ids(self) -> int:
        """Number of patients."""
        return int(pd.unique(self.id).shape[0])

    @property
    def transitions(self) -> pd.DataFrame:
        """Observed transitions: from × to counts (a ``censored`` column for censored rows)."""
        s = list(self.states)
        names = np.array([*s, "censored"], dtype=object)
        frame = pd.crosstab(
            pd.Categorical(names[self.from_state], categories=s),
            pd.Categorical(names[self.to_state], categories=[*s, "censored"]),
            dropna=False,
        )
        frame.index.name, frame.columns.name = "from", "to"
        return frame

    @property
    def summary(self) -> pd.DataFrame:
        """Allowed transitions with the number observed (long form)."""
        counts = self.transitions
        table = counts.to_numpy()
        pos = {s: i for i, s in enumerate(self.states)}
        rows = [
            {"from": a, "to": b, "n": int(table[pos[a], pos[b]])}
            for a, b in self.matrix.transitions
        ]
        return pd.DataFrame(rows, columns=["from", "to", "n"])

    def to_frame(self) -> pd.DataFrame:
        """The rows as a tmerge-shaped frame (``id, tstart, tstop, from, state``)."""
        names = np.array([*self.states, "censored"], dtype=object)
        return pd.DataFrame(
            {
                "id": self.id,
                "tstart": self.tstart,
                "tstop": self.tstop,
                "from": names[self.from_state],
                "state": names[self.to_state],
            }
        )

    def subset(self, keep: npt.NDArray[np.bool_]) -> MultiStateData:
        """The rows where ``keep`` is true (no re-validation)."""
        return MultiStateData(
            self.id[keep],
            self.tstart[keep],
            self.tstop[keep],
            self.from_state[keep],
            self.to_state[keep],
            self.matrix,
            self.initial,
            self.time_unit,
            None if self.covariates is None else self.covariates.loc[keep].reset_index(drop=True),
        )


def _where(ids: Any, row: int) -> str:
    return f"id {ids[row]!s}, row {row + 1}"


def _column(frame: pd.DataFrame, name: str, field: str) -> pd.Series:
    if name not in frame.columns:
        raise InvalidInputError(field, f"column {name!r} is not in the data", "unknown_column")
    col = frame[name]
    if col.isna().any():
        row = int(np.flatnonzero(col.isna().to_numpy())[0])
        raise InvalidInputError(field, f"row {row + 1}: {name} is missing", "missing_value")
    return col


def _times(frame: pd.DataFrame, name: str, field: str) -> FloatArray:
    col = _column(frame, name, field)
    try:
        arr = np.asarray(pd.to_numeric(col), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(field, f"{name} must be numbers", "non_numeric_time") from exc
    if not np.isfinite(arr).all() or (arr < 0).any():
        row = int(np.flatnonzero(~np.isfinite(arr) | (arr < 0))[0])
        raise InvalidInputError(
            field, f"row {row + 1}: {name} must be a finite time >= 0", "negative_time"
        )
    return arr


def _infer_matrix(
    states_seen: Iterable[tuple[str, str]], initial: str, order: Sequence[str] | None
) -> TransitionMatrix:
    pairs = sorted(set(states_seen), key=lambda p: (p[0] != initial, p))
    names: list[str] = [initial] if order is None else list(order)
    for a, b in pairs:
        for s in (a, b):
            if s not in names:
                names.append(s)
    return TransitionMatrix(tuple(names), tuple(pairs))


def _walk(
    ids: npt.NDArray[np.object_],
    start: FloatArray,
    stop: FloatArray,
    state: npt.NDArray[np.object_],
    istate: npt.NDArray[np.object_] | None,
    initial: str,
    censored: str,
) -> list[str]:
    """The state each row starts in; checks times, overlaps and jumps (a vectorised pass)."""
    n = ids.shape[0]
    bad = np.flatnonzero(stop <= start)
    if bad.size:
        r = int(bad[0])
        raise InvalidInputError(
            "tstop",
            f"{_where(ids, r)}: tstop {stop[r]:g} is not after tstart {start[r]:g}",
            "time_backwards",
        )
    first = np.r_[True, ids[1:] != ids[:-1]]
    overlap = np.flatnonzero(~first & (start < np.r_[np.inf, stop[:-1]]))
    if overlap.size:
        r = int(overlap[0])
        raise InvalidInputError(
            "tstart",
            f"{_where(ids, r)}: tstart {start[r]:g} is before the end ({stop[r - 1]:g}) of the "
            "previous row of this id (rows of an id must be contiguous, in time order, and "
            "must not overlap)",
            "overlapping_intervals",
        )
    seen = pd.unique(ids)
    if seen.shape[0] != int(first.sum()):
        dup = pd.Series(ids[first]).duplicated().to_numpy()
        r = int(np.flatnonzero(first)[np.flatnonzero(dup)[0]])
        raise InvalidInputError(
            "id", f"{_where(ids, r)}: the rows of an id must be contiguous", "overlapping_intervals"
        )
    current: list[str] = [initial] * n
    prev = initial
    for r in range(n):
        if first[r]:
            prev = initial
        if istate is not None and istate[r] != prev:
            raise InvalidInputError(
                "istate",
                f"{_where(ids, r)}: the row starts in {istate[r]!r}, a state the patient never "
                f"entered (the patient is in {prev!r})",
                "state_never_entered",
            )
        current[r] = prev
        if state[r] != censored:
            prev = str(state[r])
    return current


def multistate_data(
    frame: pd.DataFrame,
    *,
    id: str = "id",
    start: str = "tstart",
    stop: str = "tstop",
    state: str = "state",
    istate: str | None = None,
    initial: str = "(s0)",
    censored: str = "censored",
    matrix: TransitionMatrix | None = None,
    time_unit: str = "time",
) -> MultiStateData:
    """Validated multi-state data from a tmerge-shaped frame.

    Parameters
    ----------
    frame
        One row per interval ``(start, stop]``; rows of an id contiguous and in time order.
    state
        The state entered at ``stop``, or ``censored`` when the row ends without a transition
        (R's ``Surv(tstart, tstop, state)`` response with the censoring level first).
    istate
        Optional column of the state each row starts in (R's ``istate``); checked against the
        state the patient was in.
    initial
        The state every patient starts in (before the first row).
    matrix
        Allowed transitions; by default every observed transition is allowed and the states
        are ordered initial first, then as first reached.

    Raises
    ------
    InvalidInputError
        ``unknown_column``, ``missing_value``, ``negative_time``, ``time_backwards``,
        ``overlapping_intervals``, ``state_never_entered``, ``transition_not_allowed``,
        ``unknown_state``, ``empty_data`` — naming the id and the 1-based row.
    """
    if frame.shape[0] == 0:
        raise InvalidInputError("data", "there are no rows", "empty_data")
    ids = _column(frame, id, "id").astype(str).to_numpy(dtype=object)
    t0 = _times(frame, start, "tstart")
    t1 = _times(frame, stop, "tstop")
    st = _column(frame, state, "state").astype(str).to_numpy(dtype=object)
    ist = None if istate is None else _column(frame, istate, "istate").astype(str).to_numpy(object)
    current = _walk(ids, t0, t1, st, ist, initial, censored)
    moved = st != censored
    pairs = list(zip(np.asarray(current, dtype=object)[moved], st[moved], strict=True))
    if matrix is None:
        matrix = _infer_matrix(((str(a), str(b)) for a, b in pairs), initial, None)
    used = {id, start, stop, state} | ({istate} if istate else set())
    extra = frame.drop(columns=[c for c in frame.columns if c in used]).reset_index(drop=True)
    return _encode(ids, t0, t1, current, st, censored, matrix, initial, time_unit, extra)


def _encode(
    ids: npt.NDArray[np.object_],
    t0: FloatArray,
    t1: FloatArray,
    current: Sequence[str],
    st: npt.NDArray[np.object_],
    censored: str,
    matrix: TransitionMatrix,
    initial: str,
    time_unit: str,
    covariates: pd.DataFrame | None = None,
) -> MultiStateData:
    if initial not in matrix.states:
        raise InvalidInputError("initial", f"{initial!r} is not a state", "unknown_state")
    names = pd.Index(list(matrix.states))
    frm = names.get_indexer(pd.Index(np.asarray(current, dtype=object))).astype(np.int64)
    to = names.get_indexer(pd.Index(st)).astype(np.int64)
    to[st == censored] = -1
    unknown = np.flatnonzero((to == -1) & (st != censored))
    if unknown.size:
        r = int(unknown[0])
        raise InvalidInputError(
            "state",
            f"{_where(ids, r)}: {st[r]!r} is not a state of the model {matrix.states} "
            f"nor the censoring label {censored!r}",
            "unknown_state",
        )
    allowed = np.zeros((len(names), len(names)), dtype=bool)
    for a, b in matrix.transitions:
        allowed[names.get_loc(a), names.get_loc(b)] = True
    moved = to >= 0
    bad = np.flatnonzero(moved & (frm >= 0) & ~allowed[frm, np.maximum(to, 0)])
    if bad.size:
        r = int(bad[0])
        raise InvalidInputError(
            "state",
            f"{_where(ids, r)}: the transition {current[r]!r} -> {st[r]!r} is not in "
            "the transition matrix",
            "transition_not_allowed",
        )
    return MultiStateData(ids, t0, t1, frm, to, matrix, initial, time_unit, covariates)
