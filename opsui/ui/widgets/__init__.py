"""Widgets the screens are built from; each one job, fed from the UI state.

Untrusted text reaches them as Rich ``Text``, never as markup; the log pane draws only
visible lines from a shared buffer (see docs/ARCHITECTURE.md, log pipeline).
"""
