"""The registry's web layer: FastAPI app factory, JSON API under ``/api/v1``, auth.

Business rules live in :mod:`infantall.registry`; routes only translate HTTP.
"""

from infantall.web.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
