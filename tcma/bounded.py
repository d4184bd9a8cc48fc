"""Parse untrusted files in a child process with a time and memory bound.

A PDF can loop or explode when parsed (a 300 kB stream that inflates to gigabytes, a page tree
that refers to itself). Such a file must be refused with a message, never crash or wedge a
web or worker process, so inspection and preview rendering run in a fresh interpreter whose
address space (``RLIMIT_AS``) and CPU time are capped, killed after ``timeout`` seconds.
The price is one interpreter start (~0.1-0.2 s), paid at upload and preview time only.

The child is started with ``python -I`` (no environment, no user site, no current directory
on the path): it imports only the module that holds the command and the parsing libraries.
A command is named ``"package.module:function"``, the function taking ``(data, args)`` and
returning ``(result, payload)``, raising ``Refused`` for a file it will not take. Domains
(co-branding's PDFs, MDF's proof files) bring their own commands; the core knows none.
"""

from __future__ import annotations

import importlib
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from tcma.errors import FieldError, ValidationFailed

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TIMEOUT = 20.0
DEFAULT_MEMORY_MB = 768
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from tcma.bounded import _child_main; _child_main()"
)
_HEADER = struct.Struct(">I")


class Refused(Exception):
    """Raised inside the child for a file that is readable but not acceptable."""

    def __init__(self, message: str, field: str = "file"):
        super().__init__(message)
        self.message = message
        self.field = field


def run_bounded(command: str, data: bytes, args: dict[str, Any] | None = None, *,
                what: str = "file", timeout: float = DEFAULT_TIMEOUT,
                memory_mb: int = DEFAULT_MEMORY_MB, field: str = "file",
                prefix: str = "") -> tuple[dict[str, Any], bytes]:
    """Run ``command`` (``"package.module:function"``) on ``data`` in a bounded child;
    returns its (result, payload).

    Raises ``ValidationFailed`` naming ``field`` when the child refuses the file, runs out of
    memory or time, or dies; ``prefix`` starts those messages (e.g. the file's name).
    """
    if ":" not in command:
        raise ValueError(f"name a command as package.module:function, not {command!r}")
    argv = [sys.executable, "-I", "-c", _BOOT, str(PROJECT_ROOT), command,
            json.dumps(args or {}), str(int(memory_mb)), str(float(timeout))]
    try:
        done = subprocess.run(argv, input=data, capture_output=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise _refuse(f"{prefix}This {what} took more than {timeout:g} s to read, so it was "
                      "refused. It may be damaged or far too complex; export it again and "
                      "upload the new copy.", field) from None
    out = done.stdout
    if len(out) >= _HEADER.size:
        (size,) = _HEADER.unpack_from(out)
        try:
            header = json.loads(out[_HEADER.size:_HEADER.size + size])
        except ValueError:
            header = None
        if isinstance(header, dict):
            if "refused" in header:
                raise ValidationFailed([FieldError(header.get("field", field),
                                                   prefix + header["refused"])])
            if header.get("failed") == "memory":
                raise _too_big(what, memory_mb, field, prefix)
            if "result" in header and done.returncode == 0:
                return header["result"], out[_HEADER.size + size:]
    # No answer at all: killed by a limit (SIGXCPU, SIGKILL, abort on a failed allocation).
    if done.returncode < 0 or b"MemoryError" in done.stderr or b"bad_alloc" in done.stderr:
        raise _too_big(what, memory_mb, field, prefix)
    raise _refuse(f"{prefix}This {what} could not be read: it looks damaged. Export it again "
                  "and upload the new copy.", field)


def _refuse(message: str, field: str = "file") -> ValidationFailed:
    return ValidationFailed([FieldError(field, message)])


def _too_big(what: str, memory_mb: int, field: str, prefix: str) -> ValidationFailed:
    return _refuse(f"{prefix}This {what} needs more than {memory_mb} MB of memory to read, so "
                   "it was refused. It may be damaged or built to explode when opened; export "
                   "it again and upload the new copy.", field)


# --- child side ------------------------------------------------------------------------------

def _child_main() -> None:
    """Entry point of the child: cap memory and CPU first, then read stdin and answer."""
    import resource

    command, args_json, memory_mb, timeout = sys.argv[2:6]
    limit = int(memory_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = int(float(timeout)) + 2  # a backstop: the parent kills it at ``timeout`` anyway
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    data = sys.stdin.buffer.read()
    payload = b""
    try:
        module, _, function = command.partition(":")
        result, payload = getattr(importlib.import_module(module), function)(
            data, json.loads(args_json))
        header: dict[str, Any] = {"result": result}
    except Refused as exc:
        header = {"refused": exc.message, "field": exc.field}
    except MemoryError:
        payload = b""
        header = {"failed": "memory"}
    encoded = json.dumps(header).encode()
    sys.stdout.buffer.write(_HEADER.pack(len(encoded)) + encoded + payload)
    sys.stdout.buffer.flush()
