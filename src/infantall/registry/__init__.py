"""The multi-site registry core: settings, database, models, access rules, audit trail,
and the service functions that both the JSON API and the web pages call.

Service functions (all take a SQLAlchemy ``Session`` and the caller, a
:class:`~infantall.registry.access.Principal`):

* auth: :func:`~infantall.registry.auth.login`, :func:`~infantall.registry.auth.authenticate`,
  :func:`~infantall.registry.auth.revoke_token`
* patients: :func:`~infantall.registry.patients.create_patient`,
  :func:`~infantall.registry.patients.get_patient`,
  :func:`~infantall.registry.patients.list_patients` (filters, pagination),
  :func:`~infantall.registry.patients.update_patient`,
  :func:`~infantall.registry.patients.void_patient`,
  :func:`~infantall.registry.patients.patient_history`
* events: :func:`~infantall.registry.events.add_event`,
  :func:`~infantall.registry.events.correct_event`,
  :func:`~infantall.registry.events.void_event`,
  :func:`~infantall.registry.events.list_events`
* sites and accounts: :mod:`infantall.registry.admin`
"""

from infantall.registry.access import Principal
from infantall.registry.db import Database, integrity_check, upgrade_database
from infantall.registry.errors import (
    AuthenticationError,
    ConflictError,
    LockedOutError,
    NotFoundError,
    PermissionDeniedError,
    RegistryError,
    ValidationFailedError,
)
from infantall.registry.models import Role
from infantall.registry.settings import RegistrySettings, load_settings

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "Database",
    "LockedOutError",
    "NotFoundError",
    "PermissionDeniedError",
    "Principal",
    "RegistryError",
    "RegistrySettings",
    "Role",
    "ValidationFailedError",
    "integrity_check",
    "load_settings",
    "upgrade_database",
]
