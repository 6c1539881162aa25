"""The infant-ALL disease course as states, built from domain histories.

States (in display order) and transitions, :data:`INFANT_ALL_RULES` (rules as data: a
``(state, event)`` pair leads to a state)::

    diagnosis         -> CR1 (response CR), induction failure (response not CR),
                         early death (death before the end-of-induction assessment)
    CR1               -> HSCT in CR1, relapse, death in CR1, second malignancy
    HSCT in CR1       -> relapse, death in CR1 (non-relapse mortality), second malignancy
    relapse, induction failure, second malignancy -> death

The domain has no second-remission event yet (:data:`infantall.domain.vocabulary.EVENT_KINDS`
lists none), so CR2, HSCT in CR2 and second relapse are not states here; pass ``rules`` with
those pairs when the domain gains them. Events without a rule from the current state
(MRD results, late effects, a second relapse, HSCT after relapse) do not move the patient.

Time is in years from diagnosis (days / 365.25). Two transitions on the same day are kept in
the order of the domain's event kinds, the later one placed half a day after the earlier (a
state must last a positive time in counting-process data, as R ``survival`` requires).
Follow-up ends at death or at the last information date; patients with no follow-up after
diagnosis are left out (they are never at risk).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from infantall.domain import PatientHistory
from infantall.domain.vocabulary import EVENT_KINDS
from infantall.errors import InvalidInputError
from infantall.outcomes.multistate.data import MultiStateData, TransitionMatrix, _encode

__all__ = [
    "DAYS_PER_YEAR",
    "INFANT_ALL",
    "INFANT_ALL_RULES",
    "history_events",
    "infant_all_data",
    "transition_matrix",
]

DAYS_PER_YEAR = 365.25
#: Half a day in years: the shift of a second transition on the same day.
_SAME_DAY = 0.5

#: (current state, event) -> next state; ``response_cr``/``response_failure`` are the two
#: outcomes of the end-of-induction response, the other events are domain event kinds.
INFANT_ALL_RULES: Mapping[tuple[str, str], str] = {
    ("diagnosis", "response_cr"): "CR1",
    ("diagnosis", "response_failure"): "induction failure",
    ("diagnosis", "death"): "early death",
    ("CR1", "hsct"): "HSCT in CR1",
    ("CR1", "relapse"): "relapse",
    ("CR1", "death"): "death in CR1",
    ("CR1", "second_malignancy"): "second malignancy",
    ("HSCT in CR1", "relapse"): "relapse",
    ("HSCT in CR1", "death"): "death in CR1",
    ("HSCT in CR1", "second_malignancy"): "second malignancy",
    ("relapse", "death"): "death",
    ("induction failure", "death"): "death",
    ("second malignancy", "death"): "death",
}

_ORDER = (
    "diagnosis",
    "CR1",
    "HSCT in CR1",
    "relapse",
    "induction failure",
    "second malignancy",
    "early death",
    "death in CR1",
    "death",
)


def transition_matrix(
    rules: Mapping[tuple[str, str], str], initial: str = "diagnosis"
) -> TransitionMatrix:
    """The transition matrix a rule table implies (known states in the infant-ALL order)."""
    pairs = list(dict.fromkeys((a, b) for (a, _), b in rules.items()))
    names = [initial]
    for a, b in pairs:
        names += [s for s in (a, b) if s not in names]
    rank = {s: i for i, s in enumerate(_ORDER)}
    first = {s: i for i, s in enumerate(names)}
    ordered = sorted(names, key=lambda s: (s != initial, rank.get(s, len(rank)), first[s]))
    return TransitionMatrix(tuple(ordered), tuple(pairs))


#: The infant-ALL model: states and allowed transitions.
INFANT_ALL = transition_matrix(INFANT_ALL_RULES)

_KIND_RANK = {k: i for i, k in enumerate(EVENT_KINDS)}


def history_events(histories: Iterable[PatientHistory]) -> pd.DataFrame:
    """Events of histories as a frame: ``patient_id, kind, day, status`` (days from diagnosis);
    a ``last_contact`` row carries each patient's last information date."""
    rows: list[tuple[str, str, int, str | None]] = []
    for h in histories:
        pid, d0 = h.patient.patient_id, h.patient.diagnosis_date
        if d0 is None:
            raise InvalidInputError(
                f"{pid}.diagnosis_date", "a diagnosis date is needed for times", "missing_time"
            )
        for e in h.events:
            status = getattr(e, "status", None)
            rows.append((pid, e.kind, (e.date - d0).days, None if status is None else status.value))
        last = h.last_follow_up or d0
        rows.append((pid, "last_contact", (last - d0).days, None))
    return pd.DataFrame(rows, columns=["patient_id", "kind", "day", "status"])


def _event_names(kinds: npt.NDArray[np.object_], status: npt.NDArray[np.object_]) -> Any:
    """Event kinds, with a response split into ``response_cr`` / ``response_failure``."""
    names = kinds.copy()
    resp = kinds == "response"
    names[resp] = np.where(status[resp] == "cr", "response_cr", "response_failure")
    return names


def _patient_rows(
    pid: str,
    events: Iterable[tuple[float, str]],
    end: float,
    rules: Mapping[tuple[str, str], str],
    initial: str,
) -> list[tuple[str, float, float, str, str]]:
    """Rows ``(id, tstart, tstop, from, to)`` of one patient; ``to`` '' when censored."""
    out: list[tuple[str, float, float, str, str]] = []
    state, t0 = initial, 0.0
    for day, name in events:
        nxt = rules.get((state, name))
        if nxt is None:
            continue
        t = max(day, t0 + _SAME_DAY)
        out.append((pid, t0, t, state, nxt))
        state, t0 = nxt, t
        end = max(end, t)
    if end > t0:
        out.append((pid, t0, end, state, ""))
    return out


def infant_all_data(
    source: Iterable[PatientHistory] | pd.DataFrame,
    *,
    rules: Mapping[tuple[str, str], str] = INFANT_ALL_RULES,
    initial: str = "diagnosis",
) -> MultiStateData:
    """Multi-state data of the infant-ALL course (see the module docstring).

    Parameters
    ----------
    source
        Patient histories, or an events frame with ``patient_id, kind, day, status`` (as
        :func:`history_events` returns and ``infantall.cohort``'s ``events`` frame holds).
    rules
        ``(state, event) -> state``; the transition matrix is the one the rules imply.
    """
    frame = source if isinstance(source, pd.DataFrame) else history_events(source)
    for col in ("patient_id", "kind", "day"):
        if col not in frame.columns:
            raise InvalidInputError(col, "the events frame has no such column", "unknown_column")
    if frame.shape[0] == 0:
        raise InvalidInputError("histories", "there are no patients", "empty_data")
    kind_codes, kind_names = pd.factorize(frame["kind"].astype(str))
    rank = np.array([_KIND_RANK.get(k, len(_KIND_RANK)) for k in kind_names])[kind_codes]
    pid_codes, pid_names = pd.factorize(frame["patient_id"])
    order = np.lexsort((rank, frame["day"].to_numpy(dtype=np.float64), pid_codes))
    code = pid_codes[order]
    days = frame["day"].to_numpy(dtype=np.float64)[order]
    status = (
        frame["status"].astype(object).to_numpy(dtype=object)[order]
        if "status" in frame.columns
        else np.full(code.shape[0], None, dtype=object)
    )
    names = _event_names(np.asarray(kind_names, dtype=object)[kind_codes[order]], status)
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    ends = np.maximum.reduceat(days, starts).tolist()
    # only events some rule reacts to enter the per-patient walk (not MRD, contacts, ...)
    keep = np.isin(names, list({event for _, event in rules}))
    bounds = np.searchsorted(code[keep], np.arange(starts.size + 1)).tolist()
    ev_days, ev_names = days[keep].tolist(), names[keep].tolist()
    pids = [str(p) for p in np.asarray(pid_names, dtype=object)[code[starts]]]
    rows: list[tuple[str, float, float, str, str]] = []
    for p, pid in enumerate(pids):
        a, b = bounds[p], bounds[p + 1]
        events = zip(ev_days[a:b], ev_names[a:b], strict=True)
        rows += _patient_rows(pid, events, ends[p], rules, initial)
    if not rows:
        raise InvalidInputError(
            "histories", "no patient has follow-up after diagnosis", "empty_data"
        )
    matrix = transition_matrix(rules, initial)
    row_ids, t0, t1, frm, to = zip(*rows, strict=True)
    to_names = np.array([s or "censored" for s in to], dtype=object)
    return _encode(
        np.array(row_ids, dtype=object),
        np.asarray(t0) / DAYS_PER_YEAR,
        np.asarray(t1) / DAYS_PER_YEAR,
        frm,
        to_names,
        "censored",
        matrix,
        initial,
        "years",
    )
