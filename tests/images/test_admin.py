"""The image admin: a read-only view with thumbnail, tags in order and metadata."""

import pytest
from django.urls import reverse

from sessions_app import services as session_services
from sessions_app.models import SessionImage


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def test_changelist_search_and_filter_render(admin_client, session_images):
    url = reverse("admin:images_image_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200
    first = session_images[0]
    assert f'<img src="/api/images/{first.pk}/thumbnail"'.encode() in page.content
    found = admin_client.get(url, {"q": "cat1"})
    assert [image.original_name for image in found.context["cl"].result_list] == ["cat1.png"]
    assert admin_client.get(url, {"format__exact": "PNG"}).status_code == 200


def test_change_page_shows_thumbnail_metadata_and_each_sessions_tags_in_order(
    admin_client, session, session_images, bob
):
    image = session_images[0]
    image.metadata = {"prompt": "a <cat>", "seed": 42}
    image.save(update_fields=["metadata"])
    session_services.tags_add(session, image.pk, actor=bob, names=["zebra", "apple", "mango"])
    session_services.caption_set(
        session, image.pk, actor=bob, text="A <striped> zebra & friends.", version=0
    )
    page = admin_client.get(reverse("admin:images_image_change", args=[image.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'<img src="/api/images/{image.pk}/thumbnail"' in html
    assert "&quot;prompt&quot;: &quot;a &lt;cat&gt;&quot;" in html  # pretty-printed, escaped
    assert 'name="original_name"' not in html  # no editable fields
    # The file has no caption of its own: the tags are the session image's.
    assert "zebra" not in html
    entry = SessionImage.objects.get(session=session, image=image)
    page = admin_client.get(reverse("admin:sessions_app_sessionimage_change", args=[entry.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("zebra") < html.index("apple") < html.index("mango")
    # The written caption is the session image's too, shown escaped.
    assert "A &lt;striped&gt; zebra &amp; friends." in html


def test_images_cannot_be_added_changed_or_deleted(admin_client, session_images):
    image = session_images[0]
    assert admin_client.get(reverse("admin:images_image_add")).status_code == 403
    delete = reverse("admin:images_image_delete", args=[image.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse("admin:images_image_change", args=[image.pk])
    admin_client.post(change, {"original_name": "evil.png"})
    image.refresh_from_db()
    assert image.original_name == "cat0.png"
