"""Screens: the dashboard, the container detail view and the confirmation modal."""
