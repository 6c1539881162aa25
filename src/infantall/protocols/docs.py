"""The documented rule table (``docs/protocols.md``), generated from the rules in code.

``python -m infantall.protocols > docs/protocols.md`` regenerates it; a test checks
that the file equals :func:`rule_table_markdown`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from infantall.protocols.conditions import describe
from infantall.protocols.model import Protocol
from infantall.protocols.registry import PROTOCOLS

__all__ = ["protocol_markdown", "rule_table_markdown", "rules_digest"]

_HEADER = """# Protocol rule tables

Generated from `infantall.protocols` by `python -m infantall.protocols`; a test checks
that this file equals the rules in code. Research use only: these tables reproduce published
protocol rules with their sources and are not treatment recommendations.

Quotes from seed 004 are verbatim; its comparison symbols were lost in text extraction
(read `o` as `<`, `X`/`Z` as `≥`, `p` as `≤`, `4` as `>` before a number, `10� 4` as
`10^-4`). Citation statuses (V verified, P partial, U unverified, D discrepancy) are those
of `shared/research/domain-facts.md`.

**Exact decisions.** A group or flag is determinate whenever every completion of the missing
features gives the same answer (case splitting over the missing features a rule reads;
numeric features split at the rule thresholds, `infantall.protocols.exact`). An
indeterminate decision lists in `missing_fields` exactly the features that can change the
group and in `reachable_groups` the groups still possible; an undetermined flag lists the
features that can decide it (`flag_missing_fields`). Example: an Interfant-06 KMT2A-r
infant of 100 days with the day-8 response missing and MRD 10^-3 after consolidation is HR
or MR, and HSCT-eligible in both, so `hsct_eligible` is raised.

**MRD after consolidation** (one reading for every rule): the derived feature
`mrd_after_consolidation` is the MRD result at the end of consolidation or, when that was
not recorded, at the start of OCTADAD (the time point of Interfant-06's HSCT rule, ASH
2018). **Congenital ALL**: diagnosed in the first month of life (van der Linden, Blood
2009;114:3764), read as age < 28 days (parameter `congenital_days`).

**Conventions on the command line**: every parameter below can be set with
`infantall stratify FILE --param NAME=VALUE` (lists comma-separated, e.g.
`--param cns_disease=CNS2,CNS3`); it applies to every chosen protocol that has it.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def protocol_markdown(protocol: Protocol) -> str:
    """One protocol as a Markdown section: parameters, then the rule table."""
    params = protocol.defaults
    lines = [
        f"## {protocol.name} (`{protocol.id}`, version {protocol.version})",
        "",
        protocol.description + (" **Partial.**" if protocol.partial else ""),
        "",
    ]
    if protocol.groups:
        lines.append(f"Groups: {', '.join(protocol.groups)}.")
        lines.append("")
    lines.extend(f"- {note}" for note in protocol.notes)
    if protocol.notes:
        lines.append("")
    if protocol.parameters:
        lines += ["| parameter | default | meaning |", "|---|---|---|"]
        for p in protocol.parameters:
            lines.append(f"| `{p.name}` | `{p.default!r}` | {_cell(p.description)} |")
        lines.append("")
    lines += ["| rule | result | condition (defaults) | sources |", "|---|---|---|---|"]
    for r in protocol.rules:
        result = f"group **{r.group}**" if r.group else f"flag `{r.flag}`"
        sources = "<br>".join(_cell(s.text()) for s in r.sources)
        condition = f"{_cell(r.label)}: `{_cell(describe(r.condition, params))}`"
        lines.append(f"| `{r.id}` | {result} | {condition} | {sources} |")
    lines.append("")
    return "\n".join(lines)


def rule_table_markdown(protocols: Iterable[Protocol] | None = None) -> str:
    """The whole documented rule table."""
    chosen = list(protocols) if protocols is not None else list(PROTOCOLS.values())
    return "\n".join([_HEADER, *(protocol_markdown(p) for p in chosen)])


def rules_digest(protocol: Protocol) -> str:
    """A short fingerprint of what decides a group or flag: rule ids, results, conditions
    (with defaults) and parameter defaults. Tests pin it to ``protocol.version`` so that a
    rule change without a version bump fails (the registry stores the version with each
    computed group)."""
    params = protocol.defaults
    content = {
        "rules": [[r.id, r.group, r.flag, describe(r.condition, params)] for r in protocol.rules],
        "parameters": {k: repr(v) for k, v in params.items()},
    }
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]
