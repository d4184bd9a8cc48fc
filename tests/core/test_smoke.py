from tests.factories import login, make_user


def test_admin_signs_in_and_sees_dashboard(app, client, ctx):
    admin = make_user("admin", email="ada@vendor.test")
    response = login(client, admin.email)
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert "Welcome, " in page.get_data(as_text=True)
