"""Short, operator-facing reasons for docker SDK and requests failures.

The libraries bury the useful part (the OS error, the engine's message) under layers
of wrapping; these functions dig it out and sanitise it, so the messages raised as
:mod:`opsui.domain.errors` types name the cause in a few words.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import docker.errors
import requests
import requests.exceptions
import urllib3.exceptions

from opsui.domain.errors import EngineUnavailable
from opsui.domain.sanitize import clean

CONNECTION_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    OSError,
)


_TIMEOUTS = (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
FROZEN_ENGINE_HINT = (
    "The engine accepts connections but answers nothing: it may be frozen, overloaded or "
    "stuck on its storage. Check `docker info` and the engine's log on the host."
)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception inside it, breadth first: requests and urllib3 keep
    the one that matters in ``args``, ``reason``, ``__cause__`` or ``__context__``,
    several layers deep. Bounded, and each exception once (chains can be cyclic)."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending and len(seen) < 32:
        item = pending.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        pending.extend([*item.args, getattr(item, "reason", None), item.__cause__,
                        item.__context__])


def timed_out(exc: BaseException) -> bool:
    """Whether a request failed because the engine did not answer in time (anywhere in
    the exception's causes), as opposed to refusing or not being there at all."""
    return any(isinstance(item, _TIMEOUTS) for item in _causes(exc))


def engine_unavailable(endpoint: str, exc: BaseException,
                       timeout: float | None) -> EngineUnavailable:
    """The operator's error for a request to the engine at ``endpoint`` that failed:
    one that got no answer in ``timeout`` seconds says so (the engine is there, but
    frozen), instead of advising to start an engine that is running."""
    if timed_out(exc):
        within = f" within {timeout:g} s" if timeout else " in time"
        return EngineUnavailable(f"the Docker engine at {endpoint} did not answer{within}",
                                 hint=FROZEN_ENGINE_HINT)
    return EngineUnavailable(f"no Docker engine answers at {endpoint}: {error_reason(exc)}")


def error_reason(exc: BaseException) -> str:
    """A short, sanitised explanation of a library exception.

    requests and urllib3 wrap the OS error several layers deep in messages such as
    "Max retries exceeded ... NewConnectionError(...)"; the operator needs its last
    line ("Connection refused"), so that is dug out when there is one.
    """
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return clean(str(exc.explanation), 300)
    os_error = _os_error(exc)
    if os_error is not None:
        return clean(os_error, 300)
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    text = str(exc).replace("Error while fetching server API version: ", "")
    return clean(text or type(exc).__name__, 300)


def _os_error(exc: BaseException) -> str | None:
    """The strerror of the first OSError inside an exception's causes and arguments."""
    return next((item.strerror for item in _causes(exc)
                 if isinstance(item, OSError) and item.strerror), None)


def response_reason(response: requests.Response) -> str:
    """The engine's ``message`` from a failed raw HTTP response, else its status code."""
    return body_reason(response.status_code, response.content)


def body_reason(status: int, body: bytes) -> str:
    """The engine's ``message`` from a failed response's body, else the status code."""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    return clean(str(message or f"HTTP {status}"), 300)
