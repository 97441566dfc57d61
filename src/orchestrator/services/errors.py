"""Errors a user can act on. The web layer maps `status` to HTTP; the CLI prints `message`."""
from __future__ import annotations

from dataclasses import dataclass


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


class Invalid(ServiceError):
    """Submitted data is wrong; `fields` says where (field key -> list of messages)."""

    status = 422

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.fields = fields or {}


@dataclass(frozen=True)
class Problem:
    """Why a deploy was refused: `message` in words a process owner acts on, `detail` what the
    parser or engine said (shown folded away as «Teknisk», decision 0018)."""

    file: str
    message: str
    element_id: str | None = None
    line: int | None = None
    detail: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.element_id:
            where += f": element «{self.element_id}»"
        if self.line:
            where += f" (linje {self.line})"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "element_id": self.element_id, "line": self.line, "message": self.message,
                "detail": self.detail}


class DeployRefused(ServiceError):
    status = 422

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("Utrullingen ble avvist; ingenting ble lagret:\n" + "\n".join(f"  {p}" for p in problems))


class StepFailed(ServiceError):
    """The engine could not run the next step (a script or expression failed)."""

    status = 422
