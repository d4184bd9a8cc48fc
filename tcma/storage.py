"""File storage behind one small interface: a local folder or an S3 bucket.

``STORAGE_URL`` picks the backend: ``file:///path`` (default: the instance folder) or
``s3://bucket/prefix`` (with ``S3_ENDPOINT_URL`` for S3-compatible servers; credentials come
from the usual AWS variables through boto3). Keys are slash-separated relative paths chosen by
the caller, e.g. ``partners/<public_id>/logo/<sha256>.png``.

Downloads go straight from the backend where it can serve them: S3 gives presigned URLs; the
local backend gives a signed, expiring ``/files/<token>`` URL served by this app.
"""

from __future__ import annotations

import mimetypes
import os
import re
import unicodedata
import uuid
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote, urlsplit

from flask import Blueprint, Flask, abort, current_app, has_request_context, request, send_file
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.http import dump_options_header

blueprint = Blueprint("files", __name__)

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,500}$")


class StorageError(Exception):
    pass


def check_key(key: str) -> str:
    """Refuse keys that could escape the root or name one object two ways on the two backends
    (``a/./b`` and ``a/b`` are one file locally but two S3 objects)."""
    if not _KEY.fullmatch(key) or any(part in ("", ".", "..") for part in key.split("/")):
        raise StorageError(f"invalid storage key {key!r}")
    return key


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def url(self, key: str, *, expires_in: int = 3600, filename: str | None = None) -> str: ...
    def check(self) -> None: ...


class LocalStorage:
    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # atomic: a reader sees the old file or the new one, never half

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"no such file {key!r}") from exc

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def url(self, key: str, *, expires_in: int = 3600, filename: str | None = None) -> str:
        check_key(key)
        token = _signer().dumps({"k": key, "f": filename, "e": expires_in})
        if has_request_context():
            return f"{request.url_root}files/{token}"  # the host the asker reached us on
        return f"{current_app.config['BASE_URL'].rstrip('/')}/files/{token}"

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / f".health-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()


class S3Storage:
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None):
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client("s3", endpoint_url=endpoint_url)

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            ContentType=content_type or mimetypes.guess_type(key)[0] or "application/octet-stream",
        )

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise StorageError(f"no such file {key!r}") from exc
            raise

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def url(self, key: str, *, expires_in: int = 3600, filename: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        if filename:
            params["ResponseContentDisposition"] = _attachment(filename)
        return self.client.generate_presigned_url("get_object", Params=params,
                                                  ExpiresIn=expires_in)

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


def _attachment(filename: str) -> str:
    """A Content-Disposition value that survives quotes and non-ASCII names (RFC 6266), as
    Werkzeug's ``send_file`` writes it for local downloads."""
    try:
        filename.encode("ascii")
        names = {"filename": filename}
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
        names = {"filename": simple, "filename*": f"UTF-8''{quote(filename, safe='!#$&+-.^_`|~')}"}
    return dump_options_header("attachment", names)


def storage_from_url(url: str, endpoint_url: str | None = None) -> Storage:
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalStorage(Path(parts.path))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError("STORAGE_URL s3:// needs a bucket: s3://bucket/prefix")
        return S3Storage(parts.netloc, parts.path, endpoint_url)
    raise ValueError(f"unsupported STORAGE_URL scheme {parts.scheme!r}")


def init_app(app: Flask) -> None:
    app.extensions["tcma.storage"] = storage_from_url(
        app.config["STORAGE_URL"], app.config.get("S3_ENDPOINT_URL")
    )


def storage() -> Storage:
    return current_app.extensions["tcma.storage"]


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="tcma.files")


@blueprint.get("/files/<token>")
def download(token: str):
    """Serve a local-storage file to whoever holds an unexpired signed URL for it."""
    try:
        data = _signer().loads(token, max_age=7 * 24 * 3600)
        _signer().loads(token, max_age=int(data.get("e", 3600)))
    except SignatureExpired:
        abort(410)
    except BadSignature:
        abort(404)
    backend = storage()
    if not isinstance(backend, LocalStorage) or not backend.exists(data["k"]):
        abort(404)
    return send_file(
        backend.open(data["k"]),
        mimetype=mimetypes.guess_type(data["k"])[0] or "application/octet-stream",
        as_attachment=bool(data.get("f")),
        download_name=data.get("f") or Path(data["k"]).name,
        max_age=300,
    )
