"""``python -m infantall.protocols > docs/protocols.md`` writes the documented rule table."""

from infantall.protocols.docs import rule_table_markdown

print(rule_table_markdown(), end="")
