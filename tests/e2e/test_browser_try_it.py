"""The try-it page in headless Chromium, on a real API and real image and model workers (the
offline providers): sign in with the code the console e-mail backend logs, type a prompt, watch
the four pictures arrive, pick one, watch the model being made, see the textured model in the
3D viewer (its pixels compared with an empty canvas of the viewer's background), turn it with
the mouse, make it private and public again and find it in the gallery. Under the page's strict
Content-Security-Policy, with no console error.

The page speaks the browser's language (zh-CN or en, as the API chooses), a switch changes it
and is remembered, and the API's sentences follow the page (it sends Accept-Language)."""

from __future__ import annotations

import asyncio
import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops
from playwright.async_api import Page, expect

from lumi_api import texts
from tests.integration.conftest import empty_gallery
from tests.support.api import unique_email
from tests.support.browser import VIEWPORT, PageProblems, chromium, screenshot_path
from tests.support.services import Services

# the gallery shows the latest public models of the test database: only this test's, whose
# pictures this test's API serves (others' files are gone with their tests' folders)
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.usefixtures("empty_outbox", "empty_gallery"),
]
__all__ = ["empty_gallery"]  # a fixture, imported to be used here
IMAGE_WORKER, MODEL_WORKER = "lumi-image-worker", "lumi-model-worker"
BACKGROUND = (0xEE, 0xF1, 0xF5)  # the viewer's clear colour (static/try/viewer.js)
MODEL_TIMEOUT_MS = 90_000
HEADING = {"zh-CN": "Lumi — 试一试", "en": "Lumi — try it"}
SIGN_IN = {"zh-CN": "1 · 登录", "en": "1 · Sign in"}
SEND_CODE = {"zh-CN": "发送验证码", "en": "Send me a code"}
CODE_SENT = {"zh-CN": "验证码已发送至", "en": "A code was sent to"}
SWITCH = {"zh-CN": "中文", "en": "English"}  # each language's button, named in that language
CJK = re.compile(r"[\u4e00-\u9fff]")


async def login_code(services: Services, email: str, *, within: float = 10.0) -> str:
    """The code the console e-mail backend printed in the API's log for `email`."""
    api = next(s for s in services.started if s.name == "lumi-api")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for event in reversed(api.events()):
            if event.get("event") == "email.printed_not_sent" and email in str(event.get("to")):
                found = re.search(r"\b(\d{6})\b", str(event.get("body")))
                assert found, event
                return found.group(1)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no login code for {email} in the API's log")


def differing(a: Image.Image, b: Image.Image, *, threshold: int = 24) -> float:
    """The share of pixels where `a` and `b` differ by more than `threshold` in some channel."""
    difference = np.asarray(ImageChops.difference(a.convert("RGB"), b.convert("RGB")))
    return float((difference.max(axis=2) > threshold).mean())


def colourful(image: Image.Image) -> float:
    """The share of pixels with a clear hue: a textured model, not a grey shaded one."""
    hsv = np.asarray(image.convert("HSV"))
    return float(((hsv[..., 1] > 60) & (hsv[..., 2] > 40)).mean())


async def viewer_image(page: Page) -> Image.Image:
    return Image.open(io.BytesIO(await page.locator("#viewer canvas").screenshot())).convert("RGB")


async def test_a_visitor_goes_from_a_prompt_to_a_textured_model_in_the_gallery(
    services: Services, tmp_path: Path
) -> None:
    await services.start_api(UI_ENABLED="true")
    await services.start_worker(IMAGE_WORKER, IMAGE_QUEUE_CONCURRENCY="4")
    await services.start_worker(MODEL_WORKER)
    email = unique_email("try")
    problems = PageProblems()

    async with chromium() as browser:
        context = await browser.new_context(viewport=VIEWPORT, locale="en-US")
        page = problems.watch(await context.new_page())
        response = await page.goto(services.base_url + "/")
        assert response is not None
        assert response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]

        await page.fill("#email", email)
        await page.click("#send-code button")
        await expect(page.locator("#login")).to_be_visible()
        await page.fill("#code", await login_code(services, email))
        await page.click("#login button")
        await expect(page.locator("#who")).to_contain_text(email)

        await page.fill("#prompt", "a small owl figurine")
        await page.click("#generate")
        pick = page.get_by_role("button", name="Use this one")
        await expect(pick).to_have_count(4, timeout=60_000)
        await expect(page.locator("#images img")).to_have_count(4)
        channel = await page.locator("#channel").inner_text()
        assert channel in ("live: SSE", "live: polling")
        await page.screenshot(path=screenshot_path(tmp_path, "try-images"), full_page=True)

        await pick.nth(1).click()
        await expect(page.locator("#model")).to_be_visible()
        await expect(page.locator("#viewer")).to_have_attribute(
            "data-loaded", re.compile(r"^[0-9A-Z]{26}$"), timeout=MODEL_TIMEOUT_MS
        )
        await expect(page.locator("#status")).to_have_attribute("data-code", "COMPLETED")
        await expect(page.locator("#status")).to_have_text("Completed")
        await page.wait_for_timeout(500)  # a few frames with the model
        shown = await viewer_image(page)
        empty = Image.new("RGB", shown.size, BACKGROUND)
        shown.save(screenshot_path(tmp_path, "try-viewer"))
        assert differing(shown, empty) > 0.05, "the viewer shows nothing but its background"
        assert colourful(shown) > 0.01, "the model is not textured"
        await page.screenshot(path=screenshot_path(tmp_path, "try-model"), full_page=True)

        box = await page.locator("#viewer canvas").bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        await page.mouse.move(x, y)
        await page.mouse.down()
        await page.mouse.move(x + 220, y + 40, steps=12)
        await page.mouse.up()
        await page.wait_for_timeout(700)  # the controls' damping settles
        turned = await viewer_image(page)
        assert differing(turned, shown) > 0.02, "dragging did not turn the model"
        assert differing(turned, empty) > 0.05
        turned.save(screenshot_path(tmp_path, "try-viewer-turned"))

        model_id = await page.locator("#viewer").get_attribute("data-loaded")
        mine = page.locator(f'#gallery-items [data-model="{model_id}"]')
        visibility = page.locator("#visibility")
        await expect(visibility).to_have_attribute("data-code", "PUBLIC")
        await page.click("#unpublish")
        await expect(visibility).to_have_attribute("data-code", "PRIVATE")
        await expect(mine).to_have_count(0)
        await page.click("#publish")
        await expect(visibility).to_have_attribute("data-code", "PUBLIC")
        await expect(mine).to_be_visible()
        await page.screenshot(path=screenshot_path(tmp_path, "try-gallery"), full_page=True)
        await context.close()
    assert problems.unexpected() == [], problems.errors[:5]


async def expect_language(page: Page, language: str) -> None:
    """The page's own words are in `language`: <html lang>, title, headings, buttons, the
    switch; in zh-CN every fixed text on screen has Chinese in it, in en none has."""
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await expect(page).to_have_title(HEADING[language])
    await expect(page.locator("h1")).to_have_text(HEADING[language])
    await expect(page.locator("#sign-in h2")).to_have_text(SIGN_IN[language])
    await expect(page.locator("#send-code button")).to_have_text(SEND_CODE[language])
    switch = page.locator(f'#languages [data-language="{language}"]')
    await expect(switch).to_have_attribute("aria-pressed", "true")
    shown = await page.locator("[data-i18n]:visible").all_inner_texts()
    assert shown, "no translated text is visible"
    for text in shown:
        assert bool(CJK.search(text)) == (language == "zh-CN"), (language, text)
    body = (await page.locator("body").inner_text()).replace(SWITCH["zh-CN"], "")
    if language == "en":
        assert not CJK.search(body), body


async def refused_code(page: Page, language: str, right: str) -> None:
    """A wrong code: the API's INVALID_CODE sentence in the page's language, in the notice."""
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    await page.fill("#code", wrong)
    await page.click("#login button")
    notice = page.locator("#notice")
    refused = texts.CODE_REFUSED.render("zh-CN" if language == "zh-CN" else "en")
    await expect(notice).to_have_text(f"{refused} (INVALID_CODE)")
    await expect(notice).to_have_class(re.compile(r"\berror\b"))


@pytest.mark.parametrize(
    ("locale", "first", "then"), [("zh-CN", "zh-CN", "en"), ("en-US", "en", "zh-CN")]
)
async def test_the_page_and_the_api_speak_the_browser_language_until_the_visitor_switches(
    services: Services, tmp_path: Path, locale: str, first: str, then: str
) -> None:
    await services.start_api(UI_ENABLED="true")
    email = unique_email("lang")
    problems = PageProblems()

    async with chromium() as browser:
        context = await browser.new_context(viewport=VIEWPORT, locale=locale)
        page = problems.watch(await context.new_page())
        await page.goto(services.base_url + "/")
        await expect(page.locator("#sign-in")).to_be_visible()
        await expect_language(page, first)

        await page.fill("#email", email)
        await page.click("#send-code button")
        await expect(page.locator("#code-hint")).to_contain_text(CODE_SENT[first])
        await expect(page.locator("#code-hint")).to_contain_text(email)
        right = await login_code(services, email)
        await refused_code(page, first, right)
        if first == "zh-CN":
            await page.screenshot(path=screenshot_path(tmp_path, "tryit-zh"), full_page=True)

        # the switch: the page's words at once, the API's from the next call (the browser still
        # sends its own Accept-Language; the page's header wins)
        await page.click(f'#languages [data-language="{then}"]')
        # the notice went: its sentence was in the other language
        await expect(page.locator("#notice")).to_be_hidden()
        await expect_language(page, then)
        await expect(page.locator("#code-hint")).to_contain_text(CODE_SENT[then])
        await refused_code(page, then, right)

        # remembered: the next visit is in the chosen language, whatever the browser's
        await page.reload()
        await expect(page.locator("#sign-in")).to_be_visible()
        await expect_language(page, then)
        assert await page.evaluate("localStorage.getItem('lumi.language')") == then
        await context.close()
    # the wrong codes' 400s are the only errors the console saw
    assert problems.unexpected("400") == [], problems.errors[:5]
