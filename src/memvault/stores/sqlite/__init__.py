"""The embedded default: all three memory roles in one SQLite file."""
