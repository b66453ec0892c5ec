"""Security headers on every response: Content-Security-Policy, X-Content-Type-Options, Referrer-Policy.

Two policies, chosen by path:
- the app (pages, API, static files): scripts and stylesheets only from our own origin, no inline script, no
  plugins, no <base> elsewhere, forms post only to us, and no framing (clickjacking of admin pages);
- the public survey pages a respondent opens from a link, an email or the website widget (/s/, /i/, /u/): the
  same script rules, but any site may frame them (the widget shows the survey in an iframe on the customer's own
  site, whose origin cem does not know in advance), and no Referer leaves them (their URLs carry resume keys).
  They have no form-action: an ending may redirect the respondent's form post to the survey owner's site.
The survey builder's preview is framed by the builder page itself, so it may be framed by our own origin only.

Styles: style-src 'self' keeps injected <style> blocks out (CSS can read attribute values through selectors);
style *attributes* stay allowed ('unsafe-inline' in style-src-attr only). They cannot run script, the templates use
a few for sizes, and ECharts draws its tooltip markers as HTML with style attributes.

Hand-written rather than a headers library: the values are four fixed strings picked by path, which is the part a
library would not do for us; this is a plain ASGI middleware so streamed responses are not buffered.
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_COMMON = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
)
APP_POLICY = "; ".join((*_COMMON, "form-action 'self'", "frame-ancestors 'none'"))
PUBLIC_POLICY = "; ".join((*_COMMON, "frame-ancestors *"))
PREVIEW_POLICY = "; ".join((*_COMMON, "form-action 'self'", "frame-ancestors 'self'"))

PUBLIC_PATHS = re.compile(r"^/(s|i|u)/")
PREVIEW_PATHS = re.compile(r"^/surveys/\d+/preview$")


def headers_for(path: str) -> dict[str, str]:
    """The security headers of a response to `path`."""
    if PUBLIC_PATHS.match(path):
        policy, referrer = PUBLIC_POLICY, "no-referrer"
    elif PREVIEW_PATHS.match(path):
        policy, referrer = PREVIEW_POLICY, "strict-origin-when-cross-origin"
    else:
        policy, referrer = APP_POLICY, "strict-origin-when-cross-origin"
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": referrer,
    }


class SecurityHeaders:
    """Adds the headers of `headers_for` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
