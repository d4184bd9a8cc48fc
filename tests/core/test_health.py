"""``/healthz``: a load balancer's view of the process, with real failing services.

Failures are made for real: an S3 bucket that does not exist on a moto server, a storage
folder that cannot be created, a Redis URL on a closed loopback port. The session app is
changed in place and always restored (the broker is process-wide, so no second app).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tcma.storage import LocalStorage, S3Storage


@contextmanager
def storage_swapped(app, backend) -> Iterator[None]:
    before = app.extensions["tcma.storage"]
    app.extensions["tcma.storage"] = backend
    try:
        yield
    finally:
        app.extensions["tcma.storage"] = before


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthy_process_reports_every_check(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["failing"] == []
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "broker": True, "storage": True}
    assert body["checks"]["broker"]["where"]  # says which Redis it asked


def test_healthy_with_s3_storage(app, client, moto_url):
    import boto3

    bucket = f"tcma-health-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_url).create_bucket(Bucket=bucket)
    with storage_swapped(app, S3Storage(bucket, "prefix", moto_url)):
        response = client.get("/healthz")
    assert response.status_code == 200, response.get_json()


def test_missing_s3_bucket_fails_storage(app, client, moto_url):
    with storage_swapped(app, S3Storage(f"tcma-missing-{uuid.uuid4().hex[:8]}", "", moto_url)):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "failing" and body["failing"] == ["storage"]
    assert "HeadBucket" in body["checks"]["storage"]["error"]
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    assert client.get("/healthz").status_code == 200  # restored


def test_unwritable_local_storage_fails_storage(app, client, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("the storage folder cannot live under a file")
    with storage_swapped(app, LocalStorage(blocker / "storage")):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == ["storage"]
    assert body["checks"]["storage"]["error"].startswith(("NotADirectoryError", "FileExists"))


def test_redis_down_fails_broker(app, client):
    before = app.config["REDIS_URL"]
    port = closed_port()
    app.config["REDIS_URL"] = f"redis://:hunter2@127.0.0.1:{port}/0"
    try:
        response = client.get("/healthz")
    finally:
        app.config["REDIS_URL"] = before
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == ["broker"]
    assert "ConnectionError" in body["checks"]["broker"]["error"]
    assert body["checks"]["broker"]["where"] == f"127.0.0.1:{port}/0"
    assert "hunter2" not in response.get_data(as_text=True)  # never leak the password
    assert client.get("/healthz").status_code == 200  # restored
