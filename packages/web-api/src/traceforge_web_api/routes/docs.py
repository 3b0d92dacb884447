"""``GET /docs``: the REST API's reference page, rendered in the browser by Redoc from
``/openapi.json``.

Everything the page loads comes from this server: the page, the vendored Redoc bundle
(``/docs/redoc.standalone.js``, provenance in ``static/redoc/README.md``) and the OpenAPI
document; no CDN, no web fonts (the system's sans-serif and monospace faces). The page's URLs
are relative, so it works behind SSH port forwarding or a path prefix. It passes through the
same middleware as every route (Host/Origin guard, bearer token when one is set).
"""

from __future__ import annotations

from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

#: The vendored Redoc bundle (package data).
REDOC_JS = files("traceforge_web_api") / "static" / "redoc" / "redoc.standalone.js"

#: Only this server's own scripts, styles, images and fetches (Redoc draws with inline
#: styles and runs its search in a ``blob:`` worker).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'"
)

PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>TraceForge REST API</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <div id="redoc"></div>
    <script src="docs/redoc.standalone.js"></script>
    <script>
      Redoc.init("openapi.json", {
        hideDownloadButton: false,
        theme: {
          typography: {
            fontFamily: "system-ui, sans-serif",
            headings: { fontFamily: "system-ui, sans-serif" },
            code: { fontFamily: "ui-monospace, monospace" }
          }
        }
      }, document.getElementById("redoc"));
    </script>
  </body>
</html>
"""


def docs_page(request: Request) -> Response:
    """Return the HTML page that renders ``/openapi.json`` with Redoc (``200 text/html``)."""
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})


def redoc_script(request: Request) -> Response:
    """Return the vendored Redoc bundle (``200 text/javascript``, cached for a day)."""
    return Response(
        REDOC_JS.read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


routes: list[BaseRoute] = [
    Route("/docs", docs_page, methods=["GET"], name="docs"),
    Route("/docs/redoc.standalone.js", redoc_script, methods=["GET"], name="redoc_script"),
]
