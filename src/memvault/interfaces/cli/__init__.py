"""The ``memvault`` command."""
