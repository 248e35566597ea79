"""The Textual user interface. Talks to the domain only, never to docker or paramiko.

Monitor threads reach it only through :class:`~opsui.ui.bridge.MonitorBridge`
messages, applied to :class:`~opsui.ui.state.UiState` on the event loop and redrawn in
batches; long runs are jobs of the app (:mod:`opsui.domain.jobs`) that screens watch.
The thread model is described in docs/ARCHITECTURE.md.
"""
