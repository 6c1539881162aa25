"""``infantall trial ...``: open a trial from a simulated design, enrol, show, run interims, replay.

The design file is the YAML that ``infantall design simulate`` runs. The allocation seed is
drawn and kept server-side (in the registry database); ``trial replay`` recomputes every
allocation from it, the design versions and the audit trail, and exits non-zero on any
difference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail, write_private
from infantall.commands.registry import DatabaseOption, UserOption, _open, _principal

__all__ = ["ORDER", "register"]

ORDER = 82

trial_app = typer.Typer(
    name="trial",
    help="Run the trial that was simulated: open, enrol, interims, replay.",
    no_args_is_help=True,
)


def _with_db(database_url: str | None, user: str | None, write: bool, fn: Any) -> Any:
    """Open the database, log ``user`` in (if given), run ``fn(session, principal)`` in one
    session, turn errors into messages, and always dispose of the connections."""
    from infantall.errors import InvalidInputError
    from infantall.registry.errors import RegistryError

    settings, database = _open(database_url)
    try:
        principal = _principal(settings, database, user) if user else None
        sessions = database.write_sessions if write else database.read_sessions
        with sessions() as session:
            return fn(session, principal)
    except InvalidInputError as exc:
        fail(f"{exc.field}: {exc.reason}")
    except RegistryError as exc:
        fail(exc.message)
    finally:
        database.dispose()


DesignArgument = typer.Argument(..., exists=True, dir_okay=False, help="Design YAML.")
SettingsOption = typer.Option(
    None,
    "--settings",
    exists=True,
    dir_okay=False,
    help="YAML/JSON of allocation settings (ratio, p_best, block_multipliers, "
    "interim_events, eligible_groups, protocol, auto_interims).",
)


@trial_app.command("open")
def open_trial(
    design: Path = DesignArgument,
    code: str = typer.Option(..., "--code", help="Trial code."),
    method: str = typer.Option(
        "permuted-blocks",
        "--method",
        help="permuted-blocks, minimisation or response-adaptive.",
    ),
    factor: list[str] = typer.Option(  # noqa: B008
        [], "--factor", help="Stratification/minimisation factor (repeat)."
    ),
    settings_file: Path | None = SettingsOption,
    auto_interims: bool = typer.Option(
        False, "--auto-interims", help="Run each interim as soon as it is due."
    ),
    user: str = UserOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Open a trial (coordinator) with the design file as version 1."""
    import yaml

    from infantall.services.trials import create_trial

    spec = yaml.safe_load(design.read_text(encoding="utf-8"))
    settings: dict[str, object] = {}
    if settings_file is not None:
        loaded = yaml.safe_load(settings_file.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            fail(f"--settings: {settings_file} must hold a mapping of setting -> value")
        settings.update(loaded)
    if factor:
        settings["factors"] = list(factor)
    if auto_interims:
        settings["auto_interims"] = True
    info = _with_db(
        database_url,
        user,
        True,
        lambda session, principal: create_trial(
            session,
            principal,
            code=code,
            spec=spec,
            method=method,
            settings=settings,
        ),
    )
    emit_records([info.to_dict()], fmt, title=f"trial {code}")


@trial_app.command("enrol")
def enrol_patient(
    code: str = typer.Argument(..., help="Trial code."),
    patient: str = typer.Argument(..., help="Registry id of the patient."),
    user: str = UserOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Enrol an eligible patient of your site and allocate it (site editor)."""
    from infantall.services.trials import enrol_and_run_due as enrol

    result = _with_db(database_url, user, True, lambda s, p: enrol(s, p, code, patient))
    emit_records([result.to_dict()], fmt, title=f"enrolled in {code}")


@trial_app.command("show")
def show(
    code: str = typer.Argument(..., help="Trial code."),
    user: str = UserOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """What your role may see of the trial (pooled unless you are its DMC statistician)."""
    from infantall.services.trials import trial_view

    view = _with_db(database_url, user, False, lambda s, p: trial_view(s, p, code))
    rows = [{"item": k, "value": v} for k, v in view.items()]
    emit_records(rows, fmt, title=f"trial {code}")


@trial_app.command("interim")
def interim(
    code: str = typer.Argument(..., help="Trial code."),
    patients: str | None = typer.Option(
        None, "--patients", help="Per arm, comma-separated (default: from the registry)."
    ),
    successes: str | None = typer.Option(
        None, "--successes", help="Per arm, comma-separated (default: from the registry)."
    ),
    user: str = UserOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Run the due interim with the design's rules (the trial's DMC statistician)."""
    from infantall.services.trials import record_interim

    def ints(text: str, field: str) -> list[int]:
        try:
            return [int(v) for v in text.split(",")]
        except ValueError:
            fail(f"{field}: whole numbers separated by commas")

    n = None if patients is None else ints(patients, "patients")
    y = None if successes is None else ints(successes, "successes")
    res = _with_db(
        database_url, user, True, lambda s, p: record_interim(s, p, code, patients=n, successes=y)
    )
    rows = [
        {"arm": k, "p_better": b, "p_best": pb, "allocation": a, "active": act}
        for k, (b, pb, a, act) in enumerate(
            zip(res["p_better"], res["p_best"], res["allocation"], res["active"], strict=True)
        )
    ]
    emit_records(rows, fmt, title=f"interim {res['look'] + 1}: {res['decision']}", meta=res)


@trial_app.command("run-due")
def run_due(
    code: str = typer.Argument(..., help="Trial code."),
    as_of: str | None = typer.Option(None, "--as-of", help="Date YYYY-MM-DD (default today)."),
    user: str = UserOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Run every interim that is due, for a trial opened with settings.auto_interims (e.g.
    daily from cron when the schedule counts events or years). Prints how many ran; the
    results are for the DMC only (`trial interim`, `trial report`)."""
    import datetime as dt

    from infantall.services.trials import run_due_interims_scheduled

    try:
        day = None if as_of is None else dt.date.fromisoformat(as_of)
    except ValueError:
        fail(f"--as-of: a date YYYY-MM-DD, not {as_of!r}")
    ran = _with_db(
        database_url, user, True, lambda s, p: run_due_interims_scheduled(s, p, code, day)
    )
    emit_records([{"trial": code, "interims_run": ran}], fmt, title=f"trial {code}")


ReportOutput = typer.Option(..., "--output", "-o", dir_okay=False, help="HTML file to write.")


@trial_app.command("report")
def report(
    code: str = typer.Argument(..., help="Trial code."),
    output: Path = ReportOutput,
    closed: bool = typer.Option(False, "--closed", help="Closed (DMC) report."),
    user: str = UserOption,
    database_url: str | None = DatabaseOption,
) -> None:
    """Write the open (pooled) or closed (DMC only) data-monitoring report as HTML."""
    import datetime as dt

    from infantall.reports.dmc_section import dmc_report_html
    from infantall.services.trials.dmc import dmc_report

    now = dt.datetime.now(dt.UTC)
    content = _with_db(
        database_url, user, False, lambda s, p: dmc_report(s, p, code, closed=closed, now=now)
    )
    write_private(dmc_report_html(content), output)
    typer.echo(f"wrote {output}")


@trial_app.command("replay")
def replay(
    code: str = typer.Argument(..., help="Trial code."),
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Recompute every allocation from the seed, design and audit trail (server-side)."""
    from infantall.services.trials import replay_trial

    result = _with_db(database_url, None, False, lambda s, _: replay_trial(s, code))
    record = result.to_dict()
    rows = [{"allocation check": d} for d in result.differences] or [
        {
            "allocation check": f"{result.allocations} allocations, {result.interims} interims: "
            "identical"
        }
    ]
    emit_records(
        rows,
        fmt,
        title=f"replay of {code}",
        meta={k: record[k] for k in record if k != "differences"},
    )
    if not result.identical:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``trial`` to the root command."""
    app.add_typer(trial_app)
