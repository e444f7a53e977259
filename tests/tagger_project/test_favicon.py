"""Every page has an icon: the browser's /favicon.ico and the pages' <link rel="icon">."""

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_favicon_ico_points_at_a_real_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.ico"
    icon = finders.find("favicon.ico")
    assert icon
    with open(icon, "rb") as ico:
        assert ico.read(4) == b"\x00\x00\x01\x00"  # an ICO header


@pytest.mark.django_db
def test_pages_link_their_svg_icon(client):
    page = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert finders.find("favicon.svg")
