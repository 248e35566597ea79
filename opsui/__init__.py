"""opsui: a terminal operations dashboard for Docker hosts, local and over SSH."""

__version__ = "0.1.0"
