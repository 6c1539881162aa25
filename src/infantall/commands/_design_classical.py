"""``infantall design simon`` and ``design futility``: Simon two-stage designs and
beta-spending futility bounds (registered in ``commands/design.py``)."""

from __future__ import annotations

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail
from infantall.errors import InvalidInputError

__all__ = ["futility", "simon"]


def _error(exc: InvalidInputError) -> None:
    fail(f"{exc.field}: {exc.reason} [{exc.code}]")


def simon(
    p0: float = typer.Option(..., "--p0", help="Uninteresting response rate."),
    p1: float = typer.Option(..., "--p1", help="Response rate worth pursuing."),
    alpha: float = typer.Option(0.05, "--alpha"),
    beta: float = typer.Option(0.2, "--beta"),
    kind: str = typer.Option("optimal", "--kind", help="optimal or minimax."),
    n_max: int = typer.Option(100, "--n-max", help="Largest total size searched."),
    fmt: Format = FormatOption,
) -> None:
    """Simon (1989) two-stage single-arm design (matches Simon's Table 1)."""
    from infantall.design.simon import simon_two_stage

    try:
        d = simon_two_stage(p0, p1, alpha=alpha, beta=beta, kind=kind, n_max=n_max)  # type: ignore[arg-type]
    except InvalidInputError as exc:
        _error(exc)
        return
    emit_records([d.to_dict()], fmt, title=f"Simon two-stage ({kind})", meta={})


def futility(
    looks: int = typer.Option(3, "--looks", help="Number of analyses, equally spaced."),
    alpha: float = typer.Option(0.025, "--alpha", help="One-sided level."),
    beta: float = typer.Option(0.2, "--beta"),
    spending: str = typer.Option("obrien-fleming", "--spending", help="Alpha spending."),
    beta_spending: str = typer.Option("obrien-fleming", "--beta-spending"),
    binding: bool = typer.Option(False, "--binding/--non-binding"),
    fmt: Format = FormatOption,
) -> None:
    """Efficacy and beta-spending futility bounds (matches rpact typeBetaSpending)."""
    from infantall.design.groupseq_bounds import beta_spending_design

    try:
        for name, v in (("--spending", spending), ("--beta-spending", beta_spending)):
            if v not in ("obrien-fleming", "pocock"):
                raise InvalidInputError(name, "must be obrien-fleming or pocock", "unknown")
        d = beta_spending_design(
            looks,
            alpha=alpha,
            beta=beta,
            spending=spending,  # type: ignore[arg-type]
            beta_spending=beta_spending,  # type: ignore[arg-type]
            binding=binding,
        )
    except InvalidInputError as exc:
        _error(exc)
        return
    records = [{str(k): v for k, v in r.items()} for r in d.summary.to_dict(orient="records")]
    emit_records(
        records,
        fmt,
        title=f"{'binding' if binding else 'non-binding'} futility design",
        meta={"alpha": alpha, "beta": beta, "shift": d.shift},
    )
