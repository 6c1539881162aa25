"""The registry's error table: every stable ``code`` an API answer (RFC 9457 problem
details) or a registry service error can carry as its top-level code, with its HTTP status
and meaning.

The field-level codes of a 422 answer's ``errors`` (``missing_field``, ``invalid_choice``,
``out_of_range``, ...) are the domain's (:data:`infantall.domain.ERROR_CODES`) and the
input rules' (listed in README "Writes"); they are not repeated here. README.md shows this
table between ``<!-- registry-error-codes:start -->`` and ``<!-- registry-error-codes:end -->``
and the OpenAPI schema carries it on the ``Problem`` schema (``x-error-codes``); tests keep
the three equal and check that every code the registry and the web layer raise is listed.
"""

from __future__ import annotations

__all__ = ["REGISTRY_ERROR_CODES"]

#: code -> (HTTP status, meaning).
REGISTRY_ERROR_CODES: dict[str, tuple[int, str]] = {
    "registry_error": (400, "A registry error without a more specific code."),
    "duplicate_key": (400, "A JSON object repeats a key."),
    "malformed_json": (400, "The body is not valid JSON (RFC 8259; NaN and Infinity refused)."),
    "too_deep": (400, "The JSON is nested deeper than 32 levels."),
    "invalid_character": (400, "The body contains a NUL character."),
    "invalid_encoding": (400, "The body is not valid UTF-8 or has a lone surrogate."),
    "not_authenticated": (401, "Missing, malformed, expired or revoked credentials."),
    "totp_required": (401, "The account has a second factor: send totp_code."),
    "totp_secret_unreadable": (
        401,
        "The stored second-factor secret cannot be read (the secret key changed).",
    ),
    "forbidden": (403, "The caller's role may not do this at all."),
    "pooled_only": (
        403,
        "A coordinator reads the pooled, de-identified view only: no patient-level record.",
    ),
    "origin_mismatch": (403, "A cookie-authenticated change came from another origin."),
    "signature_refused": (403, "Wrong password on an e-signature: nothing was signed."),
    "password_refused": (
        403,
        "Wrong current password on a password change: nothing was changed.",
    ),
    "not_dmc": (403, "Only the trial's DMC members (and coordinators) read this."),
    "totp_enrolment_required": (
        403,
        "Production: admins and coordinators log in only with an enabled second factor.",
    ),
    "totp_enrolment_code_required": (
        403,
        "Production: an admin or coordinator enrols a second factor only with an "
        "enrolment code from another admin.",
    ),
    "totp_enrolment_code_invalid": (403, "The enrolment code is wrong, expired or used."),
    "totp_code_self_issued": (
        403,
        "An admin may not issue an enrolment code for its own account.",
    ),
    "not_found": (404, "No such record in the caller's scope (also another site's)."),
    "import_job_not_found": (404, "No such import job in the caller's scope."),
    "method_not_allowed": (405, "The path does not take this HTTP method."),
    "conflict": (409, "The change conflicts with the stored state."),
    "duplicate_patient": (409, "The site already has a patient with this local code."),
    "duplicate_site": (409, "A site with this code exists."),
    "duplicate_user": (409, "An account with this username exists."),
    "stale_version": (409, "The record changed since the version given was read."),
    "kind_change": (409, "A correction may not change the kind of an event."),
    "voided": (409, "The record is voided."),
    "record_locked": (409, "The patient is signed and locked: unlock it first."),
    "not_locked": (409, "Unlock of a patient that is not locked."),
    "stale_content": (409, "The record changed since the content digest shown was computed."),
    "totp_already_enabled": (409, "A second factor is enabled: an admin must disable it."),
    "totp_not_pending": (409, "No second-factor enrolment to confirm."),
    "totp_not_enrolled": (409, "The account has no second factor to disable."),
    "import_running": (409, "The site already has an import job running."),
    "trial_conflict": (409, "The trial's state does not allow this."),
    "body_too_large": (413, "The body is larger than the limit."),
    "unsupported_media_type": (415, "Wrong Content-Type (JSON, or text/csv for imports)."),
    "invalid_input": (422, "Invalid input: see errors (field, reason, code)."),
    "invalid_stored_history": (
        422,
        "A stored history the domain refuses (per patient; a pseudonym for coordinators).",
    ),
    "import_rejected": (422, "An invalid CSV: nothing imported; errors lists every problem."),
    "import_too_large": (422, "The CSV is larger than the site's byte limit: nothing imported."),
    "account_locked": (429, "Too many failed logins: the account is locked (Retry-After)."),
    "rate_limited": (429, "Too many requests from this client (Retry-After)."),
    "internal_error": (500, "An unexpected error (logged)."),
    "audit_unavailable": (
        503,
        "A read's audit row could not be committed, so no data was sent: try again.",
    ),
    "database_unavailable": (
        503,
        "The connection to the database was lost (the pool reconnects): try again.",
    ),
    "http_error": (400, "Another HTTP error (its status is the answer's)."),
}
