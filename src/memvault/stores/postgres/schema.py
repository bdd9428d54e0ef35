"""Numbered migrations of the PostgreSQL stores, one list per component.

Text columns that are sorted or compared use the "C" collation, so keys and user ids order by
code point exactly as in the SQLite store, whatever the database's locale. A step's ``sql`` may
hold several statements; table names are unqualified (they land in the store's schema).
"""

from __future__ import annotations

from memvault.stores.migrations import Migration

__all__ = ["PROFILE"]

PROFILE = [
    Migration(
        1,
        "profile facts with history and provenance",
        """
CREATE TABLE profile_facts (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    value JSONB NOT NULL,
    category TEXT NOT NULL,
    source_memory_ids TEXT[] NOT NULL DEFAULT '{}',
    agent_id TEXT,
    valid_from TIMESTAMPTZ NOT NULL,
    valid_to TIMESTAMPTZ
);
CREATE UNIQUE INDEX profile_current ON profile_facts (user_id, key) WHERE valid_to IS NULL;
CREATE INDEX profile_user ON profile_facts (user_id, key, valid_from);
""",
    ),
    Migration(
        2,
        "why a fact was retired",
        "ALTER TABLE profile_facts ADD COLUMN retired_reason TEXT",
    ),
    Migration(
        3,
        "per-user API keys (a hash of each secret, never the secret)",
        """
CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT,
    user_id TEXT COLLATE "C" NOT NULL,
    agent_id TEXT,
    scope TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);
""",
    ),
    Migration(
        4,
        "the audit trail of writes and deletes",
        """
CREATE TABLE audit_log (
    id TEXT COLLATE "C" PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    subject TEXT NOT NULL,
    agent_id TEXT,
    action TEXT NOT NULL,
    memory_ids TEXT[] NOT NULL DEFAULT '{}',
    keys TEXT[] NOT NULL DEFAULT '{}',
    detail JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_user ON audit_log (user_id, id);
""",
    ),
]
