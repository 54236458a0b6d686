"""Jepsen-lite: random writes and reads interleaved with Redis kill, pause and restart.

A Hypothesis state machine drives the real app (response cache + service
cache on a real redis-server) and compares every read with a plain dict
model. Property: no read after an acknowledged write ever returns older data.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import PASSWORD

_emails = itertools.count()


def build_machine(app, redis_server):
    class Freshness(RuleBasedStateMachine):
        @initialize()
        def start(self):
            if redis_server.proc is None:
                redis_server.start()
            if redis_server.paused:
                redis_server.resume()
            self.redis_state = "up"
            self.snapshot_taken = False
            self.model: dict[int, str] = {}
            self.writer = app.test_client()
            self.reader = app.test_client()
            email = f"sm{next(_emails)}@example.com"
            body = {"email": email, "name": "SM", "password": PASSWORD}
            assert self.writer.post("/api/v1/auth/register", json=body).status_code == 201
            assert self.writer.post("/api/v1/auth/login", json=body).status_code == 200
            self.author_id = self.writer.get("/api/v1/auth/me").get_json()["id"]
            self.version = itertools.count()

        def _title(self):
            return f"title-{next(self.version)}"

        @rule()
        def create(self):
            title = self._title()
            response = self.writer.post("/api/v1/posts", json={"title": title, "body": "b"})
            assert response.status_code == 201
            self.model[response.get_json()["id"]] = title

        @precondition(lambda self: self.model)
        @rule(data=st.data())
        def update(self, data):
            post_id = data.draw(st.sampled_from(sorted(self.model)))
            title = self._title()
            response = self.writer.patch(f"/api/v1/posts/{post_id}", json={"title": title})
            assert response.status_code == 200
            self.model[post_id] = title

        @precondition(lambda self: self.model)
        @rule(data=st.data())
        def delete(self, data):
            post_id = data.draw(st.sampled_from(sorted(self.model)))
            assert self.writer.delete(f"/api/v1/posts/{post_id}").status_code == 204
            del self.model[post_id]

        @precondition(lambda self: self.model)
        @rule(data=st.data())
        def read_single(self, data):
            post_id = data.draw(st.sampled_from(sorted(self.model)))
            response = self.reader.get(f"/api/v1/posts/{post_id}")
            assert response.status_code == 200
            assert response.get_json()["title"] == self.model[post_id]

        @rule()
        def read_list(self):
            response = self.reader.get(f"/api/v1/posts?author_id={self.author_id}&limit=100")
            assert response.status_code == 200
            seen = {p["id"]: p["title"] for p in response.get_json()["data"]}
            assert seen == self.model

        @rule()
        def read_own_list(self):
            response = self.writer.get("/api/v1/users/me/posts?limit=100")
            assert response.status_code in (200, 503)
            if response.status_code == 200:
                seen = {p["id"]: p["title"] for p in response.get_json()["data"]}
                assert seen == self.model

        @precondition(lambda self: self.redis_state == "up")
        @rule()
        def kill_redis(self):
            redis_server.kill()
            self.redis_state = "down"

        @precondition(lambda self: self.redis_state == "up")
        @rule()
        def pause_redis(self):
            redis_server.pause()
            self.redis_state = "paused"

        @precondition(lambda self: self.redis_state != "up")
        @rule()
        def recover_redis(self):
            if self.redis_state == "down":
                redis_server.start()
            else:
                redis_server.resume()
            self.redis_state = "up"

        @precondition(lambda self: self.redis_state == "up")
        @rule()
        def snapshot(self):
            redis_server.save_snapshot()
            self.snapshot_taken = True

        @precondition(lambda self: self.redis_state == "up" and self.snapshot_taken)
        @rule()
        def restart_from_snapshot(self):
            redis_server.restart(from_snapshot=True)

        @precondition(lambda self: self.redis_state == "up")
        @rule()
        def restart_empty(self):
            redis_server.restart(from_snapshot=False)
            self.snapshot_taken = False

        @invariant()
        def nothing(self):
            pass

        def teardown(self):
            if redis_server.paused:
                redis_server.resume()

    return Freshness


@pytest.mark.slow
def test_no_read_after_an_acknowledged_write_returns_older_data(make_app, redis_server):
    app = make_app(redis=redis_server, SESSION_BACKEND="sql")
    machine = build_machine(app, redis_server)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=12,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
