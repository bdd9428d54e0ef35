"""PostgreSQL stores (``pip install 'memvault[postgres]'``), on asyncpg without an ORM.

URLs look like ``postgresql://user:password@host:5432/database?schema=memvault``. The
``schema`` parameter names the PostgreSQL schema that holds memvault's tables (default
``memvault``; ``public`` works too); it is created when missing, so several tenants or test
runs can share one database, each in its own schema. Every other query parameter is passed to
asyncpg unchanged (``sslmode``, ``application_name``, ...).
"""
