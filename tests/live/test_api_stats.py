"""Staff see every worker's live connections in the API and the admin."""

from live.clients import client_connect


def connect(session, user, client_id: str, worker_id: str = "w1:1"):
    return client_connect(
        client_id=client_id,
        session_id=session.pk,
        user=user,
        channel_name=f"chan-{client_id}",
        worker_id=worker_id,
    )


def test_staff_sees_clients_with_statistics(client, session, bob, carol, staff):
    connect(session, bob, "c1")
    connect(session, carol, "c2", worker_id="w2:2")
    client.force_login(staff)
    body = client.get("/api/stats/clients").json()
    assert body["count"] == 2
    assert body["workers"] == {"w1:1": 1, "w2:2": 1}
    first = body["clients"][0]
    assert (first["client_id"], first["user"], first["session_id"]) == ("c1", "bob", session.pk)
    assert (first["frames_in"], first["frames_out"], first["image_id"]) == (0, 0, None)


def test_members_and_strangers_cannot_see_clients(client, session, alice):
    assert client.get("/api/stats/clients").status_code == 401
    client.force_login(alice)
    response = client.get("/api/stats/clients")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_admin_lists_connections_read_only(client, session, bob, staff):
    row = connect(session, bob, "c1")
    client.force_login(staff)
    page = client.get("/admin/sessions_app/clientconnection/")
    assert page.status_code == 200
    assert b"c1" in page.content
    assert client.get(f"/admin/sessions_app/clientconnection/{row.pk}/delete/").status_code == 403
