"""The memory core: models, errors and the :class:`~memvault.core.memvault.Memvault` class."""
