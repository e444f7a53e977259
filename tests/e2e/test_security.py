"""In the browser: no page breaks its Content-Security-Policy, and /api/docs works offline."""

from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_workspace import stocked_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Runs before any page script: every CSP violation the page meets, in window.__csp.
WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def foreign_requests(page, server) -> list[str]:
    """Record every request that leaves the server under test (a CDN, a font host…)."""
    seen: list[str] = []
    own = urlparse(server.url).netloc
    page.on("request", lambda r: seen.append(r.url) if urlparse(r.url).netloc != own else None)
    return seen


def test_pages_run_under_the_policy_without_violations(new_page, server, alice):
    session, _ids = stocked_session(alice, name="Strict", count=3)
    page = new_page()
    page.add_init_script(WATCH_VIOLATIONS)
    outside = foreign_requests(page, server)
    sign_in(page, "alice")
    expect(page.locator("svg.progress rect.seg")).to_have_count(1)  # 3 to do
    for url in (f"/sessions/{session.pk}/", f"/sessions/{session.pk}/insight/", "/sessions/"):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__csp") == [], url
    page.goto(f"/sessions/{session.pk}/")
    thumbnails = page.locator("img[src*='/api/images/']")
    expect(thumbnails.first).to_be_visible()
    assert page.evaluate("document.querySelector(\"img[src*='/api/images/']\").naturalWidth") > 0
    assert page.errors == [] and outside == []


def test_api_docs_render_offline(new_page, server):
    page = new_page()
    page.context.route(
        lambda url: urlparse(url).netloc != urlparse(server.url).netloc,
        lambda route: route.abort(),
    )
    outside = foreign_requests(page, server)
    page.add_init_script(WATCH_VIOLATIONS)
    page.goto("/api/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/sessions").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    assert outside == []
    assert page.evaluate("window.__csp") == []
