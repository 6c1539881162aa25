"""Use cases that combine parts: registry analysis datasets and risk groups, the demo, the
registry report flow. Presenters (CLI, web, reports) call these; the registry below knows only
the domain, and the computing parts know nothing of storage.
"""
