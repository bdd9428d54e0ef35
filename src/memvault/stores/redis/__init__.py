"""Redis stores: working memory shared by every server replica (``redis://``, ``rediss://``)."""
