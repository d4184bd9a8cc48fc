"""Errors a user can cause, with messages a user can act on.

Services raise these; views turn them into a page with the message, the API into an
RFC 9457 problem document that names the offending fields.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    """A request that cannot be carried out as asked; ``status`` is the HTTP answer."""

    status = 400
    title = "Bad request"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def errors(self) -> list[FieldError]:
        return [FieldError(self.field, self.message)] if self.field else []


class ValidationFailed(DomainError):
    """One or more fields are wrong; each error names its field."""

    status = 422
    title = "Validation failed"

    def __init__(self, errors: list[FieldError], message: str | None = None):
        self._errors = list(errors)
        summary = message or "; ".join(f"{e.field}: {e.message}" for e in self._errors)
        super().__init__(summary)

    @property
    def errors(self) -> list[FieldError]:
        return self._errors

    def for_field(self, field: str) -> str | None:
        return next((e.message for e in self._errors if e.field == field), None)

    @classmethod
    def from_pydantic(cls, exc) -> ValidationFailed:
        errors = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "body"
            message = err["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            errors.append(FieldError(field, message))
        return cls(errors)


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class TooManyRequests(DomainError):
    status = 429
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
