"""The plain-Python core: models, ports, the host monitor, jobs, the journal, logs.

No UI or I/O library is imported here (``tests/unit/test_layers.py`` checks it), so
everything in it runs in unit tests against fakes of :mod:`opsui.domain.ports`. The
journal's record types, the lock, the thread model and the log pipeline are described
in docs/ARCHITECTURE.md.
"""
