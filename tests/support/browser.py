"""Headless Chromium for the tests of the pages (Playwright's Python package driving Debian's
`chromium`: no browser is downloaded). A page's console errors, uncaught exceptions and
Content-Security-Policy refusals are collected, so a test can require that there were none.

Screenshots go to the test's folder, or to `LUMI_SCREENSHOTS` when set (to look at them)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, ViewportSize, async_playwright

from tests.support.backends import required

CHROMIUM = "/usr/bin/chromium"
# WebGL without a GPU: Chromium's software renderer (SwiftShader through ANGLE)
ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


def chromium_executable() -> str:
    executable = shutil.which("chromium") or CHROMIUM
    if not Path(executable).exists():
        if required():
            pytest.fail("CI=true but Debian's chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    return executable


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    executable = chromium_executable()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class PageProblems:
    """What went wrong in a page: console errors (CSP refusals among them) and exceptions."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def unexpected(self, *allowed: str) -> list[str]:
        """The errors not containing any of `allowed` (a 403 a test provoked, say)."""
        return [e for e in self.errors if not any(text in e for text in allowed)]


def screenshot_path(tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("LUMI_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"
