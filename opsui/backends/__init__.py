"""Blocking I/O behind the domain's ports: Docker SDK, paramiko, psutil, httpx, host shell.

Each module implements a Protocol of :mod:`opsui.domain.ports`; :mod:`opsui.wiring`
builds them and hands them to the domain (the CLI's ``trust-host`` also calls
:mod:`opsui.backends.ssh` directly). Textual is never imported here. The host-shell
protocol (:mod:`opsui.backends.host_shell`) and the state-file scripts
(:mod:`opsui.backends.host_files`) are specified in docs/ARCHITECTURE.md.
"""
