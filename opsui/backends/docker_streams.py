"""Closing a streaming engine response from any thread.

The stats feeds and the event stream each have a reader thread blocked on a socket;
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
