"""The one error the SDK raises for an API call that failed."""

from __future__ import annotations


class ApiError(Exception):
    """The API's ``{"error": {"code", "message"}}``, with the HTTP status when over HTTP.

    ``code`` is one of the protocol's error codes (``bad_request``, ``unauthorized``,
    ``forbidden``, ``not_found``, ``conflict``, ``too_large``, ``rate_limited``,
    ``unavailable``, ``internal``). ``retryable`` says whether the same call may
    succeed later (a publish retried with the same ``mid`` is stored once).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.code in ("unavailable", "rate_limited")
