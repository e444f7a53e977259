"""Every page carries a strict CSP, holds no inline script or style, and is never cached."""

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
}


class InlineFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, style attributes, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script: str | None = None

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self._in_script = "script"
        if tag == "style":
            self.found.append("<style> element")
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:60]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None


def inline_code(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


def policy_of(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    parts = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in parts}


@pytest.fixture
def signed_in(alice):
    client = Client()
    client.force_login(alice)
    return client


def member_pages(session) -> list[str]:
    return [
        reverse("sessions-list"),
        reverse("workspace", args=[session.pk]),
        reverse("insight", args=[session.pk]),
        "/api/docs",
    ]


def staff_pages(image_id: int) -> list[str]:
    return [
        reverse("admin:index"),
        reverse("admin:images_image_changelist"),
        reverse("admin:images_image_change", args=[image_id]),
        reverse("admin:sessions_app_taggingsession_changelist"),
    ]


def test_pages_send_a_strict_policy_and_hold_no_inline_code(
    session_images, session, signed_in, staff
):
    admin = Client()
    admin.force_login(staff)
    visits = [(Client(), reverse("login"))]
    visits += [(signed_in, url) for url in member_pages(session)]
    visits += [(admin, url) for url in staff_pages(session_images[0].pk)]
    for client, url in visits:
        response = client.get(url)
        assert response.status_code == 200, url
        policy = policy_of(response)
        for directive, value in STRICT.items():
            assert policy.get(directive) == value, (url, directive, policy)
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert inline_code(response.content.decode()) == [], url


def test_html_pages_are_never_stored(signed_in, session):
    for url in [reverse("sessions-list"), reverse("workspace", args=[session.pk])]:
        response = signed_in.get(url)
        assert response.status_code == 200
        directives = {d.strip() for d in response["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= directives, response["Cache-Control"]
    assert "no-store" in Client().get(reverse("login"))["Cache-Control"]
