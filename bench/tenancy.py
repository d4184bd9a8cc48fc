"""What partner tenancy costs on the hot path of every partner request.

Measures, on a throwaway SQLite database with 200 partners x 10 brand-profile versions:
- raw: a plain SQLAlchemy Core SELECT with the partner filter written by hand (the baseline);
- scoped: the same ORM query in a partner-scoped session, where ``tcma.tenancy`` adds the
  filter through ``with_loader_criteria``;
- api: a whole authenticated API request (bearer token lookup + scoped query + JSON).

Run: .venv/bin/python bench/tenancy.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(fn, repeat: int) -> float:
    """Median microseconds per call over ``repeat`` calls, in 5 rounds."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        rounds.append((time.perf_counter() - start) / repeat * 1e6)
    return statistics.median(rounds)


def main() -> None:
    from sqlalchemy import select, text

    from tcma import migrate
    from tcma.app import create_app
    from tcma.auth import service as accounts
    from tcma.auth.models import Role, UserStatus
    from tcma.extensions import db
    from tcma.partners.models import BrandProfile, Partner
    from tcma.tenancy import scope_session_to_partner

    folder = Path(tempfile.mkdtemp(prefix="tcma-bench-"))
    app = create_app({"INSTANCE_PATH": str(folder), "BROKER": "stub",
                      "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}"})
    with app.app_context():
        migrate.upgrade()
        partners = []
        for i in range(200):
            p = Partner(slug=f"p{i}", name=f"Partner {i}", tier="gold", region="EMEA",
                        language="en", type="reseller")
            db.session.add(p)
            partners.append(p)
        db.session.flush()
        for p in partners:
            for v in range(1, 11):
                db.session.add(BrandProfile(partner_id=p.id, version=v, display_name=p.name))
        target = partners[100]
        user = accounts.invite_user(email="bench@example.com", name="Bench",
                                    role=Role.PARTNER_ADMIN, partner=target, notify=False)
        user.status = UserStatus.ACTIVE
        db.session.commit()
        _, secret = accounts.create_api_token(user, "bench")
        db.session.commit()
        target_id, target_public = target.id, target.public_id

        raw_sql = text("SELECT * FROM brand_profiles WHERE partner_id = :pid "
                       "ORDER BY version DESC")

        def raw():
            with db.engine.connect() as conn:
                rows = conn.execute(raw_sql, {"pid": target_id}).all()
            assert len(rows) == 10

        def scoped():
            scope_session_to_partner(target_id)
            rows = db.session.execute(
                select(BrandProfile).order_by(BrandProfile.version.desc())
            ).scalars().all()
            assert len(rows) == 10
            db.session.remove()

        def unscoped_orm():
            rows = db.session.execute(
                select(BrandProfile).where(BrandProfile.partner_id == target_id)
                .order_by(BrandProfile.version.desc())
            ).scalars().all()
            assert len(rows) == 10
            db.session.remove()

        client = app.test_client()
        headers = {"Authorization": f"Bearer {secret}"}

        def api():
            response = client.get(f"/api/v1/partners/{target_public}/brand-profile/versions",
                                  headers=headers)
            assert response.status_code == 200 and len(response.json) == 10

        for fn in (raw, scoped, unscoped_orm, api):
            fn()  # warm caches and compiled statements
        results = {
            "raw_select_us": timed(raw, 400),
            "orm_hand_filtered_us": timed(unscoped_orm, 400),
            "orm_tenancy_scoped_us": timed(scoped, 400),
            "api_request_us": timed(api, 100),
        }
    ratio = results["orm_tenancy_scoped_us"] / results["orm_hand_filtered_us"]
    print(f"{'what':<28}{'us per call':>14}")
    for name, value in results.items():
        print(f"{name:<28}{value:>14.1f}")
    print(f"{'scoped / hand-filtered ORM':<28}{ratio:>14.2f}")
    results["tenancy_overhead_ratio"] = round(ratio, 3)
    print("RESULT " + json.dumps({k: round(v, 1) if isinstance(v, float) else v
                                  for k, v in results.items()}))


if __name__ == "__main__":
    main()
