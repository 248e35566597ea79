"""Widgets the screens are built from; each one job, fed from the UI state."""
