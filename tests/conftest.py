"""Test harness: one app and one migrated database per run, a clean slate per test.

Defaults need nothing running: SQLite in a temporary folder and an embedded redis-server.
``TCMA_TEST_DATABASE_URL`` / ``TCMA_TEST_REDIS_URL`` point the same suite at PostgreSQL and
a real Redis; if they are set and the server is down, tests fail saying how to start it.

Each test sees committed data for real (the after-commit enqueue, the live server and the
worker threads all depend on it), so instead of rolling back a transaction we empty every
table after each test: a few milliseconds on both databases.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from tests import factories

TEST_DATABASE_URL = os.environ.get("TCMA_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TCMA_TEST_REDIS_URL")

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = ("redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
               "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log")


def _check_services() -> None:
    if TEST_DATABASE_URL:
        import sqlalchemy

        from tcma.config import _sqlalchemy_url

        try:
            engine = sqlalchemy.create_engine(_sqlalchemy_url(TEST_DATABASE_URL))
            with engine.connect():
                pass
            engine.dispose()
        except Exception as exc:  # noqa: BLE001
            pytest.exit(f"PostgreSQL at {TEST_DATABASE_URL} is not reachable ({exc}).\n"
                        f"Start it with: {START_POSTGRES}", returncode=3)
    if TEST_REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(TEST_REDIS_URL).ping()
        except Exception as exc:  # noqa: BLE001
            pytest.exit(f"Redis at {TEST_REDIS_URL} is not reachable ({exc}).\n"
                        f"Start it with: {START_REDIS}", returncode=3)


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def database_url(instance_dir):
    """A database of this run's own: a fresh PostgreSQL database per run, dropped after it,
    so parallel runs on one server never meet."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{instance_dir / 'test.db'}"
        return
    import sqlalchemy

    from tcma.config import _sqlalchemy_url

    name = f"tcma_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(_sqlalchemy_url(TEST_DATABASE_URL),
                                     isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = sqlalchemy.engine.make_url(_sqlalchemy_url(TEST_DATABASE_URL))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def app(instance_dir, database_url):
    _check_services()
    from tcma.app import create_app

    app = create_app({
        "INSTANCE_PATH": str(instance_dir),
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "REDIS_NAMESPACE": f"tcma-test-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        "STORAGE_URL": f"file://{instance_dir / 'storage'}",
        "MAIL_URL": f"outbox:{instance_dir / 'outbox'}",
        "BASE_URL": "http://localhost",
        "OIDC_CLIENT_ID": None,
    })
    with app.app_context():
        from tcma import migrate
        from tcma.extensions import db

        migrate.upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()
        _forget_redis_keys(app)


@pytest.fixture(autouse=True)
def _clean_slate(request, app, instance_dir):
    yield
    with app.app_context():
        _empty_tables()
        _forget_redis_keys(app)
    outbox = instance_dir / "outbox"
    if outbox.exists():
        shutil.rmtree(outbox)


def _forget_redis_keys(app) -> None:
    """Delete this run's keys only (rate limits, queues): other runs may share the server."""
    from tcma.redis import redis_for

    redis = redis_for(app)
    keys = list(redis.scan_iter(match=f"{app.config['REDIS_NAMESPACE']}:*", count=1000))
    if keys:
        redis.delete(*keys)


def _empty_tables() -> None:
    from tcma.extensions import db

    db.session.remove()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # TRUNCATE does not fire the append-only row triggers, which is what tests need.
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            triggers = {name: sql for name, sql in conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND "
                "(name LIKE '%_no_update' OR name LIKE '%_no_delete')")).all()}
            for name in triggers:  # the append-only tables' guards (audit log, MDF ledger)
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
            for sql in triggers.values():
                conn.execute(text(sql))


@pytest.fixture
def ctx(app):
    """An app context for calling services directly, as a CLI command or actor would."""
    with app.app_context():
        yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def outbox(app, instance_dir):
    return factories.Outbox(instance_dir / "outbox")


@pytest.fixture
def jobs(app):
    """Run queued Dramatiq messages on a real worker: ``jobs.run()`` waits until all are done."""
    from tcma.queue import get_broker

    runner = factories.JobRunner(get_broker())
    yield runner
    runner.stop()


@pytest.fixture(scope="session")
def moto_url():
    """moto's server mode on loopback: a real S3- and SES-speaking HTTP endpoint, with fake
    credentials in the environment for the session."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_SESSION_TOKEN": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1"}.items():
            mp.setenv(name, value)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()
