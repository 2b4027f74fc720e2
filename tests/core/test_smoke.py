def test_home_redirects_anonymous_users_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_signed_in_user_sees_home(client, company, login_as):
    login_as(company.admin)
    response = client.get("/")
    assert response.status_code == 200
    assert b"No apps are enabled yet" in response.data
