"""Browser tests: one live worker and one headless Chromium per module.

The worker is a real `manage.py serve` subprocess on the test database (a
file for SQLite, the test database's name for PostgreSQL), so tests set data
up through our services in this process and the browser sees it there.
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import password_of, require_service
from tests.e2e.server import REPO, LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# axe-core lives in the repository (MPL-2.0, see vendor/axe-core/README.md): no npm needed.
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module", autouse=True)
def allow_orm_beside_playwright():
    """Playwright's sync API runs an event loop in this thread; Django would then
    refuse the ORM calls the tests make to set data up and check results.

    Module-scoped and autouse, so it is set before the module's other fixtures
    and lifted after them: every test outside tests/e2e keeps Django's guard.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


def off_loop(fn, *args, **kwargs):
    """Run a service in another thread, where its after-commit broadcast has no event loop."""
    from django.db import connection

    def run():
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


@pytest.fixture(scope="module")
def media_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def live_server_proc(django_db_setup, django_db_blocker, media_root, tmp_path_factory):
    """One worker for the module; tests may restart it."""
    with django_db_blocker.unblock():
        server = LiveServer(
            media_root=media_root, log_path=tmp_path_factory.mktemp("logs") / "serve.log"
        )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(live_server_proc, settings, media_root):
    """The live worker, with this process storing files where it reads them."""
    settings.MEDIA_ROOT = str(media_root)
    if live_server_proc.process.poll() is not None:
        live_server_proc.start()
    return live_server_proc


@pytest.fixture(scope="module")
def browser():
    require_service("Chromium", Path(CHROMIUM).exists(), f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, server):
    """Make pages in fresh contexts (one per user), closed after the test."""
    contexts = []

    def make(viewport=DESKTOP):
        context = browser.new_context(viewport=viewport, base_url=server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page, username: str) -> None:
    """Sign in through the real form."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password_of(username))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/sessions/")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def serious_violations(page) -> list[dict]:
    """Run axe-core inside the page; the serious and critical violations it finds."""
    # Evaluated through DevTools, not as an inline <script>: the pages' CSP forbids those.
    page.evaluate(AXE.read_text())
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
