"""The ops console in headless Chromium, on a real API and image worker: a provider that fails
for good fills the dead-letter stream; a non-administrator gets the 403 page; an administrator
signs in with a `lumi token create --admin` token, sees the letters the test made, replays one
with its row's button and the rest as a selection, and every image job then completes. The
page runs under its strict Content-Security-Policy with no console error. The console is
English, and so are the API's sentences in it, even in a Chinese browser."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, expect
from pytest_aiohttp import AiohttpServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api import texts
from lumi_common.ids import new_id
from tests.e2e.test_pipeline import image_jobs, openai_worker
from tests.support.api import unique_email
from tests.support.browser import VIEWPORT, PageProblems, chromium, screenshot_path
from tests.support.emulators import OpenAIImagesEmulator
from tests.support.lumi_client import LumiClient, status_is
from tests.support.services import Services

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]


async def admin_token(services: Services) -> str:
    email = unique_email("ops")
    result = await services.cli("token", "create", "--email", email, "--admin")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


async def test_an_administrator_replays_dead_letters_from_the_console(
    services: Services,
    client: LumiClient,
    aiohttp_server: AiohttpServer,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    emulator = OpenAIImagesEmulator(fail_always=503)
    await openai_worker(services, aiohttp_server, emulator)
    created = await client.create_task("a lighthouse on a rock")
    watch = client.watch(created)
    await watch.until(status_is("IMAGE_FAILED"), failed=frozenset())
    jobs = {job.id for job in await image_jobs(sessionmaker, [created["id"]])}
    token = await admin_token(services)
    ops = f"{services.base_url}/ops"

    async with aiohttp.ClientSession() as session:  # the HTTP answers themselves
        for path in ("/ops", "/api/admin/streams"):
            async with session.get(services.base_url + path, headers=client.headers) as answer:
                assert answer.status == 403, path
            async with session.get(services.base_url + path) as anonymous:
                assert anonymous.status == (200 if path == "/ops" else 401), path

    async with chromium() as browser:
        problems = PageProblems()
        outsider = await browser.new_context(
            viewport=VIEWPORT, extra_http_headers={"Authorization": client.headers["Authorization"]}
        )
        page = problems.watch(await outsider.new_page())
        response = await page.goto(ops)
        assert response is not None
        assert response.status == 403
        await expect(page.get_by_role("heading", name="403 — administrators only")).to_be_visible()
        await page.screenshot(path=screenshot_path(tmp_path, "ops-403"))
        await outsider.close()

        # a Chinese browser: the console asks the API for English (operators read English)
        context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        page = problems.watch(await context.new_page())
        page.on("dialog", lambda dialog: dialog.accept())
        response = await page.goto(ops)
        assert response is not None
        assert "script-src 'self'" in response.headers["content-security-policy"]
        await page.fill("#token", token)
        await page.click("#token-form button")
        rows = page.locator("#letters tbody tr")
        await expect(rows).to_have_count(4)
        assert {await row.get_attribute("data-letter") for row in await rows.all()}
        listed = set(await page.locator("#letters tbody tr td:nth-child(3) code").all_inner_texts())
        assert listed == jobs
        image_row = page.locator('#streams tr[data-stream="image-jobs"]')
        await expect(image_row.locator("td").nth(5)).to_have_text("4")
        await expect(image_row.locator("td").nth(4)).to_contain_text("idle")
        await page.screenshot(path=screenshot_path(tmp_path, "ops-dead-letters"), full_page=True)
        await search_task(page, new_id())
        not_found = texts.TASK_NOT_FOUND.render("en")
        await expect(page.locator("#task p.warn")).to_have_text(not_found)

        emulator.fail_always = None  # the provider is fixed; the operator replays
        await rows.first.get_by_role("button", name="Replay").click()
        await expect(page.locator("#notice")).to_contain_text("Replayed 1 of 1")
        await expect(rows).to_have_count(3)
        await page.check("#select-all")
        await page.click("#replay-selected")
        await expect(page.locator("#notice")).to_contain_text("Replayed 3 of 3")
        await expect(page.locator("#letters-empty")).to_be_visible()

        done = await watch.until(status_is("IMAGE_COMPLETED"))
        assert [image["imageStatus"] for image in done["images"]] == ["COMPLETED"] * 4
        await search_task(page, created["id"])
        statuses = page.locator("#task-jobs tbody tr td:nth-child(3)")
        await expect(statuses).to_have_text(["COMPLETED"] * 4)
        actions = page.locator("#actions tbody tr")
        await expect(actions.first).to_contain_text("replay")
        await page.screenshot(path=screenshot_path(tmp_path, "ops-replayed"), full_page=True)
        await context.close()
    # the 401 of the visit before signing in, the 403s of the outsider and the 404 of the unknown
    # task were provoked
    assert problems.unexpected("status of 401", "status of 403", "status of 404") == []


async def search_task(page: Page, task_id: str) -> None:
    await page.fill("#task-id", task_id)
    await page.click("#job-search button")
