"""Storage: the local folder and S3 pass the same behaviour tests, against real servers.

S3 is moto's server mode started here on loopback and spoken to through boto3 over HTTP, so
signing, presigned URLs and error codes are the real wire behaviour. Local downloads go through
the app's signed ``/files/<token>`` route.
"""

from __future__ import annotations

import threading
import time
import uuid
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from werkzeug.http import parse_options_header

from tcma.storage import (
    LocalStorage,
    S3Storage,
    Storage,
    StorageError,
    storage,
    storage_from_url,
)


@pytest.fixture
def bucket(moto_url) -> str:
    # moto keeps one in-process backend; a fresh bucket per test keeps tests independent.
    name = f"tcma-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_url).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path) -> Storage:
    if request.param == "local":
        return storage_from_url(f"file://{tmp_path / 'files'}")
    moto_url = request.getfixturevalue("moto_url")
    bucket = request.getfixturevalue("bucket")
    return storage_from_url(f"s3://{bucket}/uploads", moto_url)


# --- the same behaviour on both backends ----------------------------------------------------


def test_put_get_exists_delete(backend: Storage):
    key = "partners/p-1/logo/abc.png"
    assert not backend.exists(key)
    backend.put(key, b"\x89PNG logo bytes", "image/png")
    assert backend.exists(key)
    assert backend.get(key) == b"\x89PNG logo bytes"
    backend.delete(key)
    assert not backend.exists(key)
    backend.delete(key)  # deleting twice is harmless: callers clean up without checking


def test_missing_key_raises_storage_error(backend: Storage):
    with pytest.raises(StorageError, match="no such file 'nothing/here.pdf'"):
        backend.get("nothing/here.pdf")


@pytest.mark.parametrize("key", [
    "", "/etc/passwd", "../secret", "a/../../b", "a//b", "a/./b", "a/", ".hidden",
    "a\\b", "with space.pdf", "a/\nb", "report.pdf\n",
])
def test_invalid_keys_are_refused(backend: Storage, key: str):
    for call in (lambda: backend.put(key, b"x"), lambda: backend.get(key),
                 lambda: backend.exists(key), lambda: backend.delete(key),
                 lambda: backend.url(key)):
        with pytest.raises(StorageError, match="invalid storage key"):
            call()


def test_overwrite_is_atomic_for_readers(backend: Storage):
    """A reader during an overwrite sees the old file or the new one, never a mix."""
    key = "assets/brochure.pdf"
    old, new = b"A" * 200_000, b"B" * 300_000
    backend.put(key, old)
    seen: set[bytes] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(backend.get(key))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(15):
            backend.put(key, new)
            backend.put(key, old)
        backend.put(key, new)
    finally:
        done.set()
        reader.join(timeout=10)
    assert seen <= {old, new}
    assert backend.get(key) == new


def test_check_passes_on_a_working_backend(backend: Storage):
    backend.check()


# --- local specifics --------------------------------------------------------------------------


def test_local_overwrite_leaves_no_temporary_files(tmp_path):
    backend = LocalStorage(tmp_path)
    backend.put("a/b.txt", b"one")
    backend.put("a/b.txt", b"two")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b.txt"]


def test_local_check_fails_on_unwritable_root(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage folder should be")
    with pytest.raises(OSError):
        LocalStorage(blocker / "storage").check()


def _path(url: str) -> str:
    return urlsplit(url).path


def test_local_signed_url_downloads_through_the_app(app, client, ctx):
    backend = storage()
    assert isinstance(backend, LocalStorage)
    backend.put("kits/k1/brochure.pdf", b"%PDF-1.7 brochure")

    url = backend.url("kits/k1/brochure.pdf", filename="Broschüre Q3.pdf")
    assert url.startswith("http://localhost/files/")
    response = client.get(_path(url))
    assert response.status_code == 200
    assert response.data == b"%PDF-1.7 brochure"
    assert response.mimetype == "application/pdf"
    kind, options = parse_options_header(response.headers["Content-Disposition"])
    assert (kind, options["filename"]) == ("attachment", "Broschüre Q3.pdf")

    inline = client.get(_path(backend.url("kits/k1/brochure.pdf")))
    assert inline.status_code == 200
    assert inline.headers["Content-Disposition"].startswith("inline")


def test_local_url_uses_the_host_the_visitor_reached(app, tmp_path):
    backend = LocalStorage(tmp_path)
    with app.test_request_context("/", base_url="https://partners.example.test"):
        assert backend.url("a.pdf").startswith("https://partners.example.test/files/")


def test_forged_or_foreign_tokens_get_404(app, client, ctx):
    from itsdangerous import URLSafeTimedSerializer

    backend = storage()
    backend.put("private/report.pdf", b"secret")
    token = _path(backend.url("private/report.pdf")).rsplit("/", 1)[1]

    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/files/{tampered}").status_code == 404
    foreign = URLSafeTimedSerializer("another-secret", salt="tcma.files").dumps(
        {"k": "private/report.pdf", "f": None, "e": 3600})
    assert client.get(f"/files/{foreign}").status_code == 404
    assert client.get("/files/not-a-token").status_code == 404

    backend.delete("private/report.pdf")
    assert client.get(f"/files/{token}").status_code == 404  # valid link, file gone


def test_expired_link_gets_410(app, client, ctx):
    backend = storage()
    backend.put("short/lived.txt", b"soon gone")
    path = _path(backend.url("short/lived.txt", expires_in=1))
    assert client.get(path).status_code == 200
    # Signatures carry whole seconds: the link is dead at most two seconds later.
    deadline = time.monotonic() + 3
    status = 200
    while status == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        status = client.get(path).status_code
    assert status == 410


# --- S3 specifics -----------------------------------------------------------------------------


def test_s3_keys_live_under_the_prefix(moto_url, bucket):
    backend = storage_from_url(f"s3://{bucket}/tenant-a/", moto_url)
    backend.put("logos/x.png", b"png")
    listed = boto3.client("s3", endpoint_url=moto_url).list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["tenant-a/logos/x.png"]
    head = boto3.client("s3", endpoint_url=moto_url).head_object(
        Bucket=bucket, Key="tenant-a/logos/x.png")
    assert head["ContentType"] == "image/png"  # guessed from the key when not given


def test_s3_presigned_url_downloads_the_bytes(moto_url, bucket):
    backend = storage_from_url(f"s3://{bucket}/p", moto_url)
    backend.put("kits/k1/brochure.pdf", b"%PDF-1.7 from s3", "application/pdf")

    plain = requests.get(backend.url("kits/k1/brochure.pdf", expires_in=60), timeout=10)
    assert plain.status_code == 200
    assert plain.content == b"%PDF-1.7 from s3"
    assert "Content-Disposition" not in plain.headers

    named = requests.get(
        backend.url("kits/k1/brochure.pdf", filename='Broschüre "Q3".pdf'), timeout=10)
    assert named.status_code == 200
    assert named.content == b"%PDF-1.7 from s3"
    kind, options = parse_options_header(named.headers["Content-Disposition"])
    assert (kind, options["filename"]) == ("attachment", 'Broschüre "Q3".pdf')


def test_s3_check_fails_on_a_missing_bucket(moto_url):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        S3Storage(f"no-such-bucket-{uuid.uuid4().hex[:8]}", "", moto_url).check()


def test_storage_url_parsing():
    with pytest.raises(ValueError, match="needs a bucket"):
        storage_from_url("s3:///prefix")
    with pytest.raises(ValueError, match="unsupported STORAGE_URL scheme 'ftp'"):
        storage_from_url("ftp://files.example.test/x")
