"""Closing a streaming engine response from any thread.

The event stream and the log streams each have a reader thread blocked on a socket;
stopping one means closing that socket under it, which the SDK does for local
connections but refuses for SSH channels. Both callers share this one workaround.
"""

from __future__ import annotations

import contextlib
from typing import Any


def cancel_stream(stream: Any) -> None:
    """Close a ``CancellableStream`` from any thread, waking its blocked reader.

    The SDK shuts the socket down, but refuses when the connection is an SSH channel;
    then the channel itself is closed, which ends the read the same way.
    """
    try:
        stream.close()
        return
    except Exception:
        pass
    response = getattr(stream, "_response", None)
    raw_fp = getattr(getattr(response, "raw", None), "_fp", None)
    channel = getattr(getattr(raw_fp, "fp", None), "channel", None)
    with contextlib.suppress(Exception):
        if channel is not None:
            channel.close()
    with contextlib.suppress(Exception):
        if response is not None:
            response.close()


def keep_reading(api: Any, response: Any) -> None:
    """Lift the read timeout of a stream whose head came within the client's deadline.

    A stream is requested like any call, so an engine that takes the connection but
    never answers fails after the client's timeout instead of holding a thread for
    ever; once it has answered, a follow stream may rightly be quiet for hours (it ends
    by being closed). docker-py does the same for its own log streams. Raises the
    SDK's APIError when the engine answered with an error.
    """
    api._disable_socket_timeout(api._get_raw_response_socket(response))
