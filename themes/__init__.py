"""Bundled theme files (TOML). Users add their own in the config folder."""
