"""The data README states the count of records and results per file; keep it true."""

from __future__ import annotations

import re

from infantall.evidence import ENRICHMENT_FILES, SEED_FILES, data_dir, read_data_file
from infantall.evidence.loader import STATEMENT_FILES, read_statements


def test_readme_counts_match_the_files() -> None:
    readme = (data_dir() / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z0-9_]+\.yaml)` \| (\d+) \| (\d+) \|", readme, flags=re.M)
    stated = {name: (int(recs), int(results)) for name, recs, results in rows}
    assert set(stated) == set(SEED_FILES + ENRICHMENT_FILES)
    for name, (n_records, n_results) in stated.items():
        _, records, _ = read_data_file(data_dir() / name)
        assert (len(records), sum(len(r.results) for r in records)) == (n_records, n_results), name


def test_readme_statement_counts_match_the_files() -> None:
    readme = (data_dir() / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z0-9_]+_statements\.yaml)` \| (\d+) \|", readme, flags=re.M)
    stated = {name: int(n) for name, n in rows}
    assert set(stated) == set(STATEMENT_FILES)
    for name, n in stated.items():
        assert len(read_statements([data_dir() / name])) == n, name
