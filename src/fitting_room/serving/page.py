"""The shopper web page: static files shipped inside the package, served by the same service.

Everything the page needs (HTML, CSS, JavaScript) is in ``serving/web/``; it calls the
service's own JSON API, so it works offline and loads nothing from other hosts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

WEB_DIR = Path(__file__).with_name("web")

# The page talks only to its own origin; a strict policy makes that a guarantee.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def shop_page() -> Any:
    """A Starlette app serving ``index.html``, ``shop.css`` and ``shop.js`` (mounted at ``/shop``)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    class SecurityHeaders:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def send_with_headers(message: dict) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, send_with_headers)

    return Starlette(
        routes=[Mount("/", app=StaticFiles(directory=WEB_DIR, html=True), name="web")],
        middleware=[Middleware(SecurityHeaders)],
    )
