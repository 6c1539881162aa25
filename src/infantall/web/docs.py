"""The API's documentation pages and the favicon, served from the package (no CDN).

Swagger UI (``/api/v1/docs``) and ReDoc (``/api/v1/redoc``) load their scripts and styles
from the assets that the ``fastapi-offline`` package bundles (MIT; Swagger UI and ReDoc
themselves are Apache-2.0 and MIT), served under ``/api/v1/docs-assets``; nothing is
fetched from the internet, so the documentation works on an offline site network. The
favicon is the pages' own ``static/favicon.svg``, also answered at ``/favicon.ico`` for
browsers that ask for it without reading the page.

ReDoc's bundle draws its "API docs by Redocly" badge from ``cdn.redoc.ly``; the bundle is
served with that one address replaced by the local favicon (:data:`REDOC_CDN_LOGO`), so
the page makes no request outside the site.
"""

from __future__ import annotations

import functools
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_DIR", "FAVICON", "REDOC_CDN_LOGO", "install_docs"]

#: The Swagger UI and ReDoc bundles shipped inside the ``fastapi-offline`` package.
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
#: The registry's favicon (an SVG in the pages' static folder).
FAVICON = Path(__file__).resolve().parent / "static" / "favicon.svg"
_FAVICON_URL = "/static/favicon.svg"
#: Swagger UI settings: no call to the public validator service (it would leave the site).
_SWAGGER_PARAMETERS = {"validatorUrl": None, "deepLinking": True}
#: The one external address ReDoc's bundle fetches (its badge's logo; the rest are schema ids).
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def _redoc_bundle() -> bytes:
    """ReDoc's standalone bundle with its badge logo served locally."""
    return (
        (ASSETS_DIR / "redoc.standalone.js")
        .read_bytes()
        .replace(REDOC_CDN_LOGO, _FAVICON_URL.encode())
    )


def install_docs(app: FastAPI, prefix: str) -> None:
    """Add ``{prefix}/docs``, ``{prefix}/redoc``, their assets and ``/favicon.ico`` to ``app``.

    Build the app with ``docs_url=None, redoc_url=None`` first (FastAPI's own pages load
    their assets from a CDN).
    """
    assets = f"{prefix}/docs-assets"
    openapi_url = app.openapi_url or f"{prefix}/openapi.json"

    @app.get(f"{assets}/redoc.standalone.js", include_in_schema=False)
    def redoc_bundle() -> Response:
        return Response(_redoc_bundle(), media_type="text/javascript; charset=utf-8")

    app.mount(assets, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(f"{prefix}/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API (Swagger UI)",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=_FAVICON_URL,
            swagger_ui_parameters=_SWAGGER_PARAMETERS,
        )

    @app.get(f"{prefix}/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API (ReDoc)",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=_FAVICON_URL,
            with_google_fonts=False,
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return FileResponse(FAVICON, media_type="image/svg+xml")
