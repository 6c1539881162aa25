"""``infantall analyze multistate``: the disease course as states (a module of its own so that
``analyze.py`` stays under the house limit of 500 lines; registered there)."""

from __future__ import annotations

from pathlib import Path

import typer

from infantall.commands._analyze_io import (
    DataArg,
    FigureOpt,
    read_csv,
    run_safely,
)
from infantall.commands._output import (
    Format,
    FormatOption,
    OutputOption,
    Section,
    emit_sections,
    fail,
)

__all__ = ["multistate_command"]


def multistate_command(
    data: Path = DataArg,
    *,
    id_col: str = typer.Option("id", "--id", help="Column of patient ids (CSV)."),
    start: str = typer.Option("tstart", "--start", help="Column of interval starts (CSV)."),
    stop: str = typer.Option("tstop", "--stop", help="Column of interval ends (CSV)."),
    state: str = typer.Option("state", "--state", help="Column of the state entered at stop."),
    initial: str | None = typer.Option(
        None, "--initial", help="State before a patient's first row ('(s0)'; 'diagnosis')."
    ),
    censored: str = typer.Option("censored", "--censored", help="State label of censored rows."),
    times: str = typer.Option("1,2,5", "--times", help="Comma-separated times of the table."),
    tau: float | None = typer.Option(None, "--tau", help="Horizon of the mean time in state."),
    figure: Path | None = FigureOpt,
    output: Path | None = OutputOption,
    fmt: Format = FormatOption,
) -> None:
    """Multi-state model (Aalen-Johansen): state occupation with IJ SE, transitions.

    DATA is a tmerge-shaped CSV (one row per (tstart, tstop] interval, the state entered at
    tstop or 'censored') or a JSON file of patient histories (the infant-ALL states, years
    from diagnosis). Example: infantall analyze multistate data.csv --id id --start tstart
    --stop tstop --state state --times 1,2,5 --format json
    """
    with run_safely():
        from infantall.outcomes.multistate import infant_all_data, multistate_data
        from infantall.outcomes.multistate.course import multistate_analysis

        if data.suffix.lower() == ".json":
            from infantall.outcomes.endpoints import read_histories

            msd = infant_all_data(read_histories(data), initial=initial or "diagnosis")
        else:
            frame = read_csv(data, [id_col, start, stop, state])
            msd = multistate_data(
                frame,
                id=id_col,
                start=start,
                stop=stop,
                state=state,
                initial=initial or "(s0)",
                censored=censored,
            )
        try:
            ts = [float(t) for t in times.split(",") if t.strip()]
        except ValueError:
            fail(f"--times {times!r}: give comma-separated numbers, e.g. 1,2,5")
        res = multistate_analysis(msd, ts, tau=tau)
        payload = res.to_dict()
        if figure is not None:
            from infantall.reports.figures.multistate import plot_occupation
            from infantall.reports.figures.survival import save_figure

            save_figure(plot_occupation(res.occupation), figure)
            payload["figure"] = str(figure)
        if fmt is Format.json:
            from infantall.commands._output import emit_json

            emit_json(payload, output)
            return
        sections = [
            Section("occupation", payload["occupation"], title="State occupation"),
            Section("transitions", payload["transitions"], title="Transitions"),
        ]
        if payload["time_in_state"]:
            sections.append(Section("time_in_state", payload["time_in_state"]))
        meta = {k: payload[k] for k in ("states", "initial", "time_unit", "n_patients")}
        emit_sections(sections, fmt, meta=meta, output=output)
