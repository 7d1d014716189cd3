"""``/docs``: Swagger UI served from the files the swagger-ui-py package ships, so the docs work offline.

FastAPI's own ``/docs`` page loads its JavaScript and CSS from a CDN and is blank without internet. The
package's Swagger UI is 5.x, which reads the OpenAPI 3.1 schema FastAPI writes (swagger-ui-bundle's 4.x
cannot).
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"


def _assets_dir() -> Path:
    """swagger-ui-py's static files, found without importing the package (its import pulls in its
    integrations for other web frameworks)."""
    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: pip install 'swagger-ui-py>=25,<26'")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` from local files; create the app with ``docs_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=_assets_dir()), name="docs-assets")
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            oauth2_redirect_url=oauth2_redirect,
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
