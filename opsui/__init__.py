"""opsui: a terminal operations dashboard for Docker hosts, local and over SSH.

Packages, from the inside out: :mod:`opsui.domain` (plain Python: models, ports, the
host monitor, the journal, operations), :mod:`opsui.backends` (the I/O behind the
ports), :mod:`opsui.ui` (Textual), ``opsui.cli`` (the command line), and
:mod:`opsui.wiring`, the one place a backend is handed to the domain. The layers, the
thread model, the journal format, the host-shell protocol and the release state
machine are described in docs/ARCHITECTURE.md.
"""

__version__ = "0.1.0"
"""The one place the version is written: pyproject.toml reads it (``dynamic``) and
``opsui --version`` prints it."""
