"""The /api/v1/auth contract: register, login, logout and me."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


def new_user(**fields):
    return {"email": "ann@example.com", "name": "Ann", "password": PASSWORD, **fields}


def assert_error(response, status, message=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "error"
    assert isinstance(body["message"], str) and body["message"]
    if message is not None:
        assert body["message"] == message
    return body


def set_cookie_header(response):
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    return headers[0]


def replay(app, cookie_value):
    """A brand-new client that only carries the given session cookie."""
    fresh = app.test_client()
    fresh.set_cookie("session", cookie_value)
    return fresh


# --- register ----------------------------------------------------------------------------------


def test_register_returns_201_with_id_email_and_name_only(client):
    response = client.post(REGISTER, json=new_user())

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "email", "name"}
    assert isinstance(body["id"], int)
    assert (body["email"], body["name"]) == ("ann@example.com", "Ann")


def test_register_stores_the_email_lower_cased_and_trims_the_name(client):
    body = client.post(REGISTER, json=new_user(email="Ann@Example.COM", name="  Ann  ")).get_json()

    assert (body["email"], body["name"]) == ("ann@example.com", "Ann")


def test_register_ignores_unknown_fields(client, database):
    response = client.post(REGISTER, json=new_user(is_admin=True, id=99))

    assert response.status_code == 201
    assert response.get_json()["id"] != 99


def test_register_does_not_log_in(client):
    client.post(REGISTER, json=new_user())

    assert_error(client.get(ME), 401)


def test_taken_email_is_409_and_writes_nothing(client, database):
    client.post(REGISTER, json=new_user())
    before = database.snapshot()

    assert_error(client.post(REGISTER, json=new_user(name="Other")), 409)
    assert database.snapshot() == before


@pytest.mark.parametrize("email", ["ANN@example.com", "ann@EXAMPLE.com", "Ann@Example.Com"])
def test_taken_email_is_409_whatever_its_case(client, database, email):
    client.post(REGISTER, json=new_user())
    before = database.snapshot()

    assert_error(client.post(REGISTER, json=new_user(email=email)), 409)
    assert database.snapshot() == before


@pytest.mark.parametrize("length", [8, 256])
def test_password_of_8_to_256_characters_is_accepted(client, length):
    assert client.post(REGISTER, json=new_user(password="p" * length)).status_code == 201


@pytest.mark.parametrize("length", [0, 7, 257])
def test_password_outside_8_to_256_characters_is_422(client, database, length):
    before = database.snapshot()

    body = assert_error(client.post(REGISTER, json=new_user(password="p" * length)), 422)

    assert "password" in body["errors"]["json"]
    assert database.snapshot() == before


@pytest.mark.parametrize(
    "email",
    [
        "",
        "not-an-email",
        "ann@",
        "@example.com",
        "ann example@x.com",
        "a\u0000@x.com",
        "a" * 250 + "@x.com",
    ],
)
def test_invalid_email_is_422(client, database, email):
    before = database.snapshot()

    body = assert_error(client.post(REGISTER, json=new_user(email=email)), 422)

    assert "email" in body["errors"]["json"]
    assert database.snapshot() == before


@pytest.mark.parametrize("name", ["", "   ", "n" * 101, "A\u0000nn"])
def test_empty_or_too_long_name_is_422(client, database, name):
    before = database.snapshot()

    body = assert_error(client.post(REGISTER, json=new_user(name=name)), 422)

    assert "name" in body["errors"]["json"]
    assert database.snapshot() == before


def test_name_of_100_characters_is_accepted(client):
    assert client.post(REGISTER, json=new_user(name="n" * 100)).status_code == 201


@pytest.mark.parametrize("missing", ["email", "name", "password"])
def test_missing_field_is_422_naming_the_field(client, database, missing):
    payload = new_user()
    del payload[missing]

    body = assert_error(client.post(REGISTER, json=payload), 422)

    assert body["errors"]["json"][missing] == ["Missing data for required field."]
    assert database.count("users") == 0


@pytest.mark.parametrize(
    "payload", [new_user(name=5), new_user(password=12345678), new_user(email=None), [], "x"]
)
def test_wrong_types_are_422(client, database, payload):
    assert_error(client.post(REGISTER, json=payload), 422)
    assert database.count("users") == 0


# --- login -------------------------------------------------------------------------------------


def test_login_returns_the_user_and_a_session_cookie(actions, client):
    user = actions.register(client)

    response = client.post(LOGIN, json={"email": "ann@example.com", "password": PASSWORD})

    assert response.status_code == 200
    assert response.get_json() == user
    cookie = set_cookie_header(response)
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"].strip().lower() == "samesite=lax"
    assert client.get(ME).get_json() == user


def test_login_accepts_the_email_in_any_case(actions, client):
    actions.register(client)

    response = client.post(LOGIN, json={"email": "ANN@Example.com", "password": PASSWORD})

    assert response.status_code == 200


def test_wrong_password_and_unknown_email_get_the_identical_401(actions, client, app):
    actions.register(client)

    wrong_password = app.test_client().post(
        LOGIN, json={"email": "ann@example.com", "password": PASSWORD + "x"}
    )
    unknown_email = app.test_client().post(
        LOGIN, json={"email": "nobody@example.com", "password": PASSWORD}
    )

    for response in (wrong_password, unknown_email):
        assert_error(response, 401, "Invalid email or password")
        assert "Set-Cookie" not in response.headers
    assert wrong_password.get_data() == unknown_email.get_data()
    assert wrong_password.headers.get("Content-Type") == unknown_email.headers.get("Content-Type")


def test_failed_login_does_not_authenticate(actions, client):
    actions.register(client)

    client.post(LOGIN, json={"email": "ann@example.com", "password": "wrong-password"})

    assert_error(client.get(ME), 401)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"email": "ann@example.com"},
        {"password": PASSWORD},
        {"email": "", "password": PASSWORD},
        {"email": "ann@example.com", "password": ""},
        {"email": "ann@example.com", "password": "p" * 257},
        {"email": "a\u0000@example.com", "password": PASSWORD},
        {"email": 5, "password": PASSWORD},
    ],
)
def test_malformed_login_is_422_and_creates_no_session(client, database, payload):
    body = assert_error(client.post(LOGIN, json=payload), 422)

    assert "errors" in body
    assert database.count("sessions") == 0


# --- me ----------------------------------------------------------------------------------------


def test_me_is_401_when_anonymous(client):
    assert_error(client.get(ME), 401)


def test_me_returns_the_logged_in_user(actions):
    signed_in = actions.signed_in("bob@example.com", "Bob")

    response = signed_in.get(ME)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"id", "email", "name"}
    assert (body["email"], body["name"]) == ("bob@example.com", "Bob")


# --- logout ------------------------------------------------------------------------------------


def test_logout_is_204_with_no_body(actions):
    signed_in = actions.signed_in()

    response = signed_in.post(LOGOUT)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_error(signed_in.get(ME), 401)


def test_logout_when_anonymous_is_still_204(client):
    assert client.post(LOGOUT).status_code == 204


@pytest.mark.parametrize("with_redis", [False, True], ids=["embedded", "redis"])
def test_logout_destroys_the_server_side_session(make_app, redis_server, with_redis):
    app = make_app(redis=redis_server if with_redis else None)
    client = app.test_client()
    client.post(REGISTER, json=new_user())
    client.post(LOGIN, json={"email": "ann@example.com", "password": PASSWORD})
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert replay(app, cookie.value).get(ME).status_code == 200  # the copy works before logout

    assert client.post(LOGOUT).status_code == 204

    assert_error(replay(app, cookie.value).get(ME), 401)
    if with_redis:
        assert redis_server.client().exists(f"sess:{cookie.value}") == 0
