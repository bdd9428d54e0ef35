"""``python -m memvault``: the ``memvault`` command, for where its script is not on ``PATH``."""

from memvault.interfaces.cli.main import main

main()
