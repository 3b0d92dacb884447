"""Headless Chromium for the tests of the browser pages (``/docs``, ``traceforge ui --web``),
with the network restricted to this machine.

Uses Python Playwright (a test dependency, imported here lazily) driving the system's
Chromium (Debian's ``chromium`` package, :data:`CHROMIUM`): Playwright never downloads a
browser. Every request the page makes is recorded; one for a host that is not loopback is
aborted and listed in :attr:`LocalOnlyPage.foreign`, so a test asserts the page asked for
nothing beyond this machine.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

#: Where Debian's ``chromium`` package puts the browser (``$TRACEFORGE_CHROMIUM`` overrides).
CHROMIUM = "/usr/bin/chromium"

#: Flags: headless, no sandbox (containers), and none of Chromium's own calls home.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_LOCAL_SCHEMES = frozenset({"data", "blob", "about"})


def chromium_path() -> str | None:
    """The Chromium executable to drive, or ``None`` when there is none (or Playwright is
    not installed): ``$TRACEFORGE_CHROMIUM``, :data:`CHROMIUM`, else ``chromium`` on PATH."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None
    for candidate in (os.environ.get("TRACEFORGE_CHROMIUM"), CHROMIUM):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def is_local(url: str) -> bool:
    """Whether ``url`` stays on this machine: a loopback host, or ``data:``/``blob:``."""
    parts = urlsplit(url)
    if parts.scheme in _LOCAL_SCHEMES:
        return True
    return (parts.hostname or "") in _LOCAL_HOSTS


@dataclass
class LocalOnlyPage:
    """A Playwright page whose every non-local request is aborted and recorded.

    Attributes:
        page: the Playwright page.
        requested: every URL the page asked for, in order.
        foreign: the non-local ones among them (aborted).
        console: the page's console messages (``type: text``), for failure messages.
    """

    page: Page
    requested: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def _route(self, route: Route) -> None:
        url = route.request.url
        self.requested.append(url)
        if is_local(url):
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort("blockedbyclient")

    def _websocket(self, url: str) -> None:
        self.requested.append(url)
        if not is_local(url):
            self.foreign.append(url)


@contextmanager
def local_only_page(width: int = 1280, height: int = 800) -> Iterator[LocalOnlyPage]:
    """Launch headless Chromium (:func:`chromium_path`, :data:`CHROMIUM_ARGS`) and yield a
    :class:`LocalOnlyPage` of ``width`` x ``height`` CSS pixels; the browser is closed after.

    Raises:
        RuntimeError: no Chromium or no Playwright (tests skip before, on
            :func:`chromium_path` being ``None``).
    """
    executable = chromium_path()
    if executable is None:
        raise RuntimeError("no Chromium and Playwright: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            watched = LocalOnlyPage(page)
            context.route("**/*", watched._route)
            page.on("console", lambda message: watched.console.append(message.text))
            page.on("websocket", lambda socket: watched._websocket(socket.url))
            yield watched
        finally:
            browser.close()
