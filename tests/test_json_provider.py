"""orjson as Flask's JSON provider: the bytes every JSON response and error is made of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from flask import Flask

from schemas.json import OrjsonProvider, init_json, iso_utc


@pytest.fixture
def flask_app():
    application = Flask(__name__)
    init_json(application)
    return application


def test_init_json_installs_the_orjson_provider(flask_app):
    assert isinstance(flask_app.json, OrjsonProvider)


def test_iso_utc_converts_any_offset_to_utc_with_a_z():
    paris_summer = timezone(timedelta(hours=2))

    assert iso_utc(datetime(2024, 6, 1, 14, 30, tzinfo=paris_summer)) == "2024-06-01T12:30:00Z"


def test_iso_utc_keeps_microseconds():
    moment = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

    assert iso_utc(moment) == "2024-01-02T03:04:05.678901Z"
    assert datetime.fromisoformat(iso_utc(moment)) == moment


def test_dumps_and_loads_round_trip_unicode(flask_app):
    value = {"title": "café ☕ 𝄞", "n": 1, "ok": True, "none": None}

    text = flask_app.json.dumps(value)

    assert isinstance(text, str)
    assert flask_app.json.loads(text) == value
    assert flask_app.json.loads(text.encode()) == value


def test_keys_keep_insertion_order(flask_app):
    assert flask_app.json.dumps({"b": 1, "a": 2, "c": 3}) == '{"b":1,"a":2,"c":3}'


def test_decimals_and_sets_have_a_stable_spelling(flask_app):
    assert flask_app.json.dumps({"d": Decimal("1.10"), "s": {"b", "a"}}) == (
        '{"d":"1.10","s":["a","b"]}'
    )


def test_unserialisable_values_raise_type_error(flask_app):
    with pytest.raises(TypeError):
        flask_app.json.dumps({"x": object()})


def test_response_carries_orjson_bytes_as_application_json(flask_app):
    with flask_app.app_context():
        response = flask_app.json.response({"b": 1, "a": [1, 2]})

    assert response.mimetype == "application/json"
    assert response.get_data() == b'{"b":1,"a":[1,2]}'


def test_jsonify_and_view_return_values_use_the_provider(flask_app):
    @flask_app.get("/thing")
    def thing():
        return {"z": 1, "errors": {"0": ["x"]}}

    response = flask_app.test_client().get("/thing")

    assert response.mimetype == "application/json"
    assert response.get_data() == b'{"z":1,"errors":{"0":["x"]}}'
