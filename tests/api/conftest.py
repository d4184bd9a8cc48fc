"""Helpers for the JSON API tests: a client that speaks with a bearer token and checks that
every error it gets back is a problem document, as an integrator's client library would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tcma.extensions import db
from tcma.partners.models import Partner
from tests.factories import make_partner, make_token, make_user

PROBLEM_TYPE = "application/problem+json"


def assert_problem(response: TestResponse, status: int) -> dict:
    """The response is an RFC 9457 problem document with this status; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_TYPE, response.mimetype
    body = response.get_json(force=True)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def field_errors(body: dict) -> dict[str, str]:
    """``{field: message}`` from a validation problem's ``errors`` list."""
    return {e["field"]: e["message"] for e in body.get("errors", [])}


@dataclass
class Api:
    """An API caller holding one bearer token."""

    client: FlaskClient
    token: str
    user: Person | None = None

    def _call(self, method: str, path: str, **kw: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self._call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> TestResponse:
        return self._call("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> TestResponse:
        return self._call("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> TestResponse:
        return self._call("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> TestResponse:
        return self._call("DELETE", path, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        """Call and insist on ``status`` and a JSON body; return the body."""
        response = self._call(method, path, **kw)
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.mimetype == "application/json"
        return response.get_json()


@dataclass(frozen=True)
class Person:
    """What a test needs to know about a user, readable outside any app context."""

    public_id: str
    email: str
    name: str
    partner_id: str | None


@pytest.fixture
def fresh(app) -> Callable[[], AbstractContextManager[Session]]:
    """``with fresh() as s:`` runs in its own app context and database session.

    API requests get their own session too, so what a test reads here is what was
    committed, as another process would see it; nothing leaks from the request's session.
    """

    @contextmanager
    def open_session() -> Iterator[Session]:
        with app.app_context():
            yield db.session

    return open_session


@pytest.fixture
def new_partner(fresh) -> Callable[..., str]:
    """``new_partner(name, tier=..., ...)`` -> the public id of a committed partner."""

    def build(name: str | None = None, **kw: Any) -> str:
        with fresh():
            return make_partner(name, **kw).public_id

    return build


@pytest.fixture
def as_user(client, fresh) -> Callable[..., Api]:
    """``as_user(role, partner=<public id>)`` -> an Api for a fresh active user with a token."""

    def build(role: str = "admin", *, partner: str | None = None, **kw: Any) -> Api:
        with fresh() as s:
            owner = None
            if partner is not None:
                owner = s.execute(select(Partner).where(Partner.public_id == partner)).scalar_one()
            user = make_user(role, partner=owner, **kw)
            person = Person(user.public_id, user.email, user.name,
                            user.partner.public_id if user.partner else None)
            return Api(client, make_token(user), person)

    return build


@pytest.fixture
def admin_api(as_user) -> Api:
    return as_user("admin", email="ada@vendor.test", name="Ada Admin")
