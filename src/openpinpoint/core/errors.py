"""Pinpoint's modeled errors. Each carries the exception name botocore maps to a class."""

from __future__ import annotations

from typing import ClassVar


class PinpointError(Exception):
    """An error the client should see, with Pinpoint's name and HTTP status."""

    code: ClassVar[str] = "InternalServerErrorException"
    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PinpointError):
    code = "BadRequestException"
    status = 400


class Forbidden(PinpointError):
    code = "ForbiddenException"
    status = 403


class NotFound(PinpointError):
    code = "NotFoundException"
    status = 404


class MethodNotAllowed(PinpointError):
    code = "MethodNotAllowedException"
    status = 405


class UnsupportedOperation(PinpointError):
    """An operation of Amazon Pinpoint's API that this server does not serve. Not a
    modeled Pinpoint error on purpose: botocore raises a plain `ClientError` with this code,
    which no `except client.exceptions.NotFoundException` catches, and it does not retry 501."""

    code = "NotImplementedException"
    status = 501


class PayloadTooLarge(PinpointError):
    code = "PayloadTooLargeException"
    status = 413


class RetryLater(PinpointError):
    """An error that a retry after `retry_after` seconds may not meet (sent as Retry-After)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyRequests(RetryLater):
    code = "TooManyRequestsException"
    status = 429


class InternalServerError(PinpointError):
    code = "InternalServerErrorException"
    status = 500


class ServiceUnavailable(RetryLater):
    """Not modeled by Pinpoint; botocore raises it as a ClientError and retries a 503."""

    code = "ServiceUnavailableException"
    status = 503
