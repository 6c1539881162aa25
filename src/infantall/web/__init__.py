"""The registry's web layer: FastAPI app factory, JSON API under ``/api/v1``, auth.

Use cases live in :mod:`infantall.services`, storage and access rules in
:mod:`infantall.registry`; routes only translate HTTP.
"""

from infantall.web.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
