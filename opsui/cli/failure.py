"""How a failed command tells it: words on stderr, one JSON object on stdout, an exit code.

Every command fails the same way whatever its group: stderr says what happened and what
to do (never a traceback, unless OPSUI_DEBUG is set or --verbose given), and under
``--json`` stdout is one object a script can test instead of parsing words::

    {"ok": false, "error": "no container named 'x'", "hint": "Run `opsui ps` ...",
     "code": 1, "app": "web", "host": "local"}

``app`` and ``host`` are there once known. ``error`` is the message (a string, as the
backups commands have always printed it), ``code`` the exit code (README "Exit codes").
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping

from opsui.cli.common import multiline
from opsui.domain.errors import OpsuiError

log = logging.getLogger(__name__)


def envelope(error: OpsuiError, code: int,
             about: Mapping[str, str] | None = None) -> dict[str, object]:
    """The JSON object a failed ``--json`` command prints on stdout."""
    return {"ok": False, **(about or {}), "error": str(error), "hint": error.hint or None,
            "code": code}


def say(error: OpsuiError) -> None:
    """The failure in words on stderr: what happened, then what to do."""
    print(f"opsui: {multiline(str(error))}", file=sys.stderr)
    if error.hint:
        print(f"  hint: {multiline(error.hint, '    ')}", file=sys.stderr)


def fail(error: OpsuiError, code: int, *, as_json: bool = False,
         about: Mapping[str, str] | None = None) -> int:
    """Tell ``error`` (and, ``as_json``, print its envelope); return ``code``."""
    if os.environ.get("OPSUI_DEBUG"):
        log.exception("error")
    else:
        log.debug("failed with exit %d", code, exc_info=sys.exc_info()[0] is not None)
    say(error)
    if as_json:
        print(json.dumps(envelope(error, code, about)), flush=True)
    return code


def pipe_closed(code: int) -> int:
    """stdout's reader went away (``opsui logs ... | head``): stop quietly. stdout now
    points at /dev/null, so the interpreter's last flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return code
