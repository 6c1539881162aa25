"""Command-line commands, one module per part.

Every module here imports only ``typer`` (and the standard library) at import time, so that
``infantall --help`` starts fast; heavy libraries are imported inside the commands. Each
module exposes ``register(app)`` which adds its commands or command group to the main app,
and may set ``ORDER`` (an int, default 100) for its place in ``--help``. Modules are found
by ``infantall.cli`` without a central list, so a part adds commands by adding a module.
"""
