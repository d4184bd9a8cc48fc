"""``GET /healthz``: is this process able to serve? Checks the database, broker and storage."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from tcma.extensions import db
from tcma.redis import describe, redis_for
from tcma.storage import storage

blueprint = Blueprint("health", __name__)


def _check(fn) -> dict:
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


@blueprint.get("/healthz")
def healthz():
    checks = {
        "database": _check(lambda: db.session.execute(text("SELECT 1")).scalar_one()),
        "broker": _check(lambda: redis_for(current_app).ping()),
        "storage": _check(lambda: storage().check()),
    }
    checks["broker"]["where"] = describe(current_app)
    if current_app.config["BROKER"] == "stub":
        checks["broker"]["where"] += " (stub broker in use)"
    db.session.rollback()
    failing = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "ok" if not failing else "failing", "failing": failing, "checks": checks}
    return jsonify(body), 200 if not failing else 503
