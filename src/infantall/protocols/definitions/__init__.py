"""Protocol definitions: each module holds protocols as data (rules, parameters, sources)."""
