"""The one error taxonomy of amc-tui.

Every failure that reaches the engine, the command line or the screen is an
:class:`AmcTuiError`.  Each carries:

- ``category``: what kind of failure it is (an :class:`ErrorCategory`),
- ``transient``: whether trying again later may succeed,
- ``user_message``: a short, fixed sentence fit for the operator's screen,
- ``detail``: whatever helps debugging (server bodies, status codes); it goes to
  the log file only and is never shown on a screen or in ``--json`` output.

Classification happens on exception types and HTTP status codes, never on the
text of English messages.  Secrets never enter any of these strings: the
client builds ``detail`` from response bodies only, and :func:`redact` scrubs
known secret values as a second line of defence.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Self
from urllib.parse import quote, quote_plus


class ErrorCategory(StrEnum):
    """What went wrong, in the words stored with an attempt or an execution."""

    THROTTLED = "throttled"
    SERVER_ERROR = "server_error"
    NETWORK = "network"
    TIMEOUT = "timeout"
    LOST_ANSWER = "lost_answer"
    CREDENTIALS = "credentials"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    INVALID_REQUEST = "invalid_request"
    QUERY_FAILED = "query_failed"
    PROTOCOL = "protocol"
    CONFIG = "config"
    INVALID_INPUT = "invalid_input"
    STORE = "store"
    ILLEGAL_TRANSITION = "illegal_transition"
    CANCELLED = "cancelled"
    INTERNAL = "internal"


USER_MESSAGES: dict[ErrorCategory, str] = {
    ErrorCategory.THROTTLED: "AMC is throttling requests; retrying",
    ErrorCategory.SERVER_ERROR: "AMC had a server error",
    ErrorCategory.NETWORK: "Could not reach AMC",
    ErrorCategory.TIMEOUT: "AMC did not answer in time",
    ErrorCategory.LOST_ANSWER: "The answer from AMC was lost",
    ErrorCategory.CREDENTIALS: "AMC credentials were refused",
    ErrorCategory.FORBIDDEN: "Access denied for this instance",
    ErrorCategory.NOT_FOUND: "AMC does not know this instance or execution",
    ErrorCategory.INVALID_REQUEST: "AMC rejected the request as invalid",
    ErrorCategory.QUERY_FAILED: "The query failed on AMC",
    ErrorCategory.PROTOCOL: "AMC sent an answer amc-tui does not understand",
    ErrorCategory.CONFIG: "Configuration error",
    ErrorCategory.INVALID_INPUT: "Invalid input",
    ErrorCategory.STORE: "The history store could not be used",
    ErrorCategory.ILLEGAL_TRANSITION: "Illegal state change",
    ErrorCategory.CANCELLED: "Cancelled",
    ErrorCategory.INTERNAL: "Internal error (see the log file)",
}


GAVE_UP_MESSAGES: dict[ErrorCategory, str] = {
    ErrorCategory.THROTTLED: "AMC kept throttling requests",
}


def gave_up_message(category: ErrorCategory, tries: int, said: str | None = None) -> str:
    """The final message of a create whose transient errors used up every try.

    ``said`` is the last error's own message when it is more specific than its
    category's (the token service's, say).
    """
    what = GAVE_UP_MESSAGES.get(category, USER_MESSAGES[category])
    if said and said != USER_MESSAGES[category]:
        what = said
    return f"{what}; gave up after {tries} tries"


TOKEN_SERVICE_MESSAGES: dict[ErrorCategory, str] = {
    ErrorCategory.THROTTLED: "Login with Amazon is throttling token requests",
    ErrorCategory.SERVER_ERROR: "Login with Amazon had a server error",
    ErrorCategory.NETWORK: "Could not reach Login with Amazon",
    ErrorCategory.TIMEOUT: "Login with Amazon did not answer in time",
    ErrorCategory.PROTOCOL: "Login with Amazon sent an answer amc-tui does not understand",
}
"""Messages for failures of the token call, which is not AMC's."""


class AmcTuiError(Exception):
    """Base of every error amc-tui raises on purpose.

    ``str(error)`` is the user message: safe to print.  ``detail`` is for the log.
    """

    category: ErrorCategory = ErrorCategory.INTERNAL
    transient: bool = False
    log_file: str | None = None
    """Where the detail was logged, once it was (for "see the log" hints)."""

    def __init__(self, user_message: str | None = None, *, detail: str = "") -> None:
        self.user_message = user_message or USER_MESSAGES[self.category]
        self.detail = detail
        super().__init__(self.user_message)

    def restated(self, user_message: str) -> Self:
        """The same error (class, detail, flags) told with another message."""
        twin = copy.copy(self)
        twin.user_message = user_message
        twin.args = (user_message,)
        return twin

    def log_text(self) -> str:
        """One line for the log file: category, message and detail."""
        text = f"[{self.category}] {self.user_message}"
        return f"{text}: {self.detail}" if self.detail else text


class TransientError(AmcTuiError):
    """A failure that may go away if the same call is made again later.

    ``may_have_taken_effect`` is False only when the request surely never reached
    AMC (connection refused, throttled): a create that failed so needs no look-up
    before it is retried.
    """

    transient = True
    may_have_taken_effect = True


class PermanentError(AmcTuiError):
    """A failure that the same call will meet again: never retried."""

    transient = False


# --- transient -------------------------------------------------------------------


class ThrottledError(TransientError):
    """HTTP 429.  ``retry_after`` is the server's minimum wait in seconds, if given."""

    category = ErrorCategory.THROTTLED
    may_have_taken_effect = False

    def __init__(
        self, user_message: str | None = None, *, detail: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(user_message, detail=detail)
        self.retry_after = retry_after


class ServerError(TransientError):
    """HTTP 500, 502, 503 or 504."""

    category = ErrorCategory.SERVER_ERROR

    def __init__(
        self, user_message: str | None = None, *, detail: str = "", status_code: int = 500
    ) -> None:
        super().__init__(user_message, detail=detail)
        self.status_code = status_code


class NetworkError(TransientError):
    """The connection could not be made or broke before an answer came."""

    category = ErrorCategory.NETWORK


class RequestTimeoutError(TransientError):
    """AMC did not answer within the configured timeout."""

    category = ErrorCategory.TIMEOUT


# --- permanent -------------------------------------------------------------------


class LostAnswerError(AmcTuiError):
    """A create's answer was lost and AMC could not be asked what it made.

    The execution is UNKNOWN until a resume settles it with the list call.
    """

    category = ErrorCategory.LOST_ANSWER


class CredentialsError(PermanentError):
    """The token endpoint refused the credentials, or AMC answered 401 after a refresh."""

    category = ErrorCategory.CREDENTIALS


class AccessDeniedError(PermanentError):
    """HTTP 403: these credentials may not use that instance or account."""

    category = ErrorCategory.FORBIDDEN


class NotFoundError(PermanentError):
    """HTTP 404: unknown instance or execution."""

    category = ErrorCategory.NOT_FOUND


class InvalidRequestError(PermanentError):
    """HTTP 400 or 422 (SQL compile errors among them)."""

    category = ErrorCategory.INVALID_REQUEST

    def __init__(
        self, user_message: str | None = None, *, detail: str = "", status_code: int = 400
    ) -> None:
        super().__init__(user_message, detail=detail)
        self.status_code = status_code


class QueryFailedError(PermanentError):
    """AMC ran the execution and it ended FAILED."""

    category = ErrorCategory.QUERY_FAILED


class ProtocolError(PermanentError):
    """AMC answered with something that is not what its API documents."""

    category = ErrorCategory.PROTOCOL


# --- local -----------------------------------------------------------------------


class ConfigError(PermanentError):
    """The config file, a profile or the credentials are unusable (exit code 3)."""

    category = ErrorCategory.CONFIG


class InputError(PermanentError):
    """Something the operator typed or passed is invalid (exit code 2).

    The message names the field and the value.
    """

    category = ErrorCategory.INVALID_INPUT


class StoreError(PermanentError):
    """The history database is corrupt, foreign, newer than this program, or unwritable."""

    category = ErrorCategory.STORE


class IllegalTransitionError(PermanentError):
    """A state change that the state machine of DESIGN section 3 does not allow."""

    category = ErrorCategory.ILLEGAL_TRANSITION


def secret_forms(secret: str) -> set[str]:
    """``secret`` as it may appear in a server's echo: as is, URL-encoded (a form
    body such as the token call's) and JSON-escaped."""
    return {
        secret,
        quote_plus(secret),
        quote(secret, safe=""),
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1],
    }


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every known secret value in ``text``, in any of its
    :func:`secret_forms`, by ``***``.

    Values shorter than 4 characters are ignored so that redaction never mangles text
    by replacing common short strings.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            for form in sorted(secret_forms(secret), key=len, reverse=True):
                text = text.replace(form, "***")
    return text
