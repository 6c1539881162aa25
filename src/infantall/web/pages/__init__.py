"""Server-rendered pages of the registry (Jinja2 templates, no script, no build step).

:data:`router` is mounted by :func:`infantall.web.create_app` beside the JSON API. Pages
call the same :mod:`infantall.registry` services as the API: login and logout; the site
dashboard (patients, filters, counts, EFS/OS curves); the patient's overview (risk group
under each protocol with explanation and sources, timeline), data entry (register, add,
correct with a reason, void), e-signature and unlock, audit history; CSV import with the
per-row report and the export buttons; the coordinator's pooled, de-identified analyses and
data-quality queries; the trials (list, overview, enrolment with allocation, DMC report:
:mod:`.trials`).
Security: CSRF tokens on every form, HttpOnly cookies, a restrictive Content-Security-Policy,
another site's patient answered 404 (:mod:`infantall.web.pages.security`).

Research use only: every page that shows a risk group says that infantall is a research
tool, not a treatment recommendation.
"""

from fastapi import APIRouter

from infantall.web.pages import auth, overview, patients, signatures, trials

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
for _module in (auth, overview, patients, signatures, trials):
    router.include_router(_module.router)
