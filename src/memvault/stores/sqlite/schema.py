"""Numbered migrations of the embedded store, one list per component. A step's statements
are separated by lines holding only ``;;`` (trigger bodies contain ``;``)."""

from __future__ import annotations

from memvault.stores.migrations import Migration
from memvault.stores.sqlite.lexical import TOKENIZE, reindex

__all__ = ["EPISODIC", "PROFILE", "WORKING"]

EPISODIC = [
    Migration(
        1,
        "memories, entity graph, full-text index, vectors",
        """
CREATE TABLE memories (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    agent_id TEXT,
    session_id TEXT,
    content TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    source TEXT,
    entities TEXT NOT NULL DEFAULT '[]',
    prev_id TEXT
)
;;
CREATE INDEX memories_user_time ON memories (user_id, occurred_at DESC, id DESC)
;;
CREATE INDEX memories_user_session ON memories (user_id, session_id, rowid)
;;
CREATE INDEX memories_prev ON memories (prev_id)
;;
CREATE TABLE entities (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (user_id, name)
)
;;
CREATE TABLE mentions (
    memory_rowid INTEGER NOT NULL REFERENCES memories (rowid) ON DELETE CASCADE,
    entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    PRIMARY KEY (memory_rowid, entity_id)
) WITHOUT ROWID
;;
CREATE INDEX mentions_entity ON mentions (entity_id)
;;
CREATE VIRTUAL TABLE memories_fts USING fts5 (
    content, content='memories', content_rowid='rowid', tokenize='porter unicode61'
)
;;
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, content) VALUES (new.rowid, new.content);
END
;;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content)
    VALUES ('delete', old.rowid, old.content);
END
;;
CREATE TABLE embeddings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_rowid INTEGER NOT NULL UNIQUE REFERENCES memories (rowid) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    vector BLOB NOT NULL
)
;;
CREATE INDEX embeddings_user ON embeddings (user_id, seq)
;;
CREATE TABLE vector_generations (
    user_id TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
)
;;
CREATE TABLE episodic_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
""",
    ),
    Migration(
        2,
        "idempotency keys of adds, pending records of adds",
        """
ALTER TABLE memories ADD COLUMN idempotency_key TEXT
;;
ALTER TABLE memories ADD COLUMN request_hash TEXT
;;
CREATE UNIQUE INDEX memories_idempotency ON memories (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL
;;
-- No foreign key on memory_id: a record outlives its memory (see stores.outbox).
CREATE TABLE pending_adds (
    memory_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    facts TEXT NOT NULL,
    created_at INTEGER NOT NULL
)
;;
CREATE INDEX pending_adds_age ON pending_adds (created_at, memory_id)
""",
    ),
    Migration(
        3,
        "the content span of each vector row",
        # int32 (start, end) pairs, one per row of the vector blob; NULL when unknown.
        "ALTER TABLE embeddings ADD COLUMN spans BLOB",
    ),
    Migration(
        4,
        "full-text index of passages, with each user's own statistics",
        """
DROP TRIGGER memories_fts_insert
;;
DROP TRIGGER memories_fts_delete
;;
DROP TABLE memories_fts
;;
-- A passage of a memory (memvault.passages.split): its character span and indexed tokens.
CREATE TABLE passages (
    rowid INTEGER PRIMARY KEY,
    memory_rowid INTEGER NOT NULL REFERENCES memories (rowid) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    span_start INTEGER NOT NULL,
    span_end INTEGER NOT NULL,
    length INTEGER NOT NULL
)
;;
CREATE INDEX passages_memory ON passages (memory_rowid)
;;
CREATE VIRTUAL TABLE passages_fts USING fts5 (
    content, content='', tokenize='porter unicode61'
)
;;
CREATE TABLE lexical_users (
    user_id TEXT PRIMARY KEY,
    passages INTEGER NOT NULL,
    tokens INTEGER NOT NULL
)
;;
-- Passages are indexed by the store's add, in Python; their removal follows any delete.
CREATE TRIGGER passages_unindex BEFORE DELETE ON memories BEGIN
    INSERT INTO passages_fts (passages_fts, rowid, content)
    SELECT 'delete', p.rowid, substr(old.content, p.span_start + 1, p.span_end - p.span_start)
    FROM passages p WHERE p.memory_rowid = old.rowid;
    UPDATE lexical_users SET
        passages = passages - (SELECT count(*) FROM passages WHERE memory_rowid = old.rowid),
        tokens = tokens
            - (SELECT coalesce(sum(length), 0) FROM passages WHERE memory_rowid = old.rowid)
    WHERE user_id = old.user_id;
    DELETE FROM passages WHERE memory_rowid = old.rowid;
END
""",
        # No re-index here: step 5 replaces this index and indexes every memory once.
    ),
    Migration(
        5,
        "full-text index of analysed text: CJK bigrams, script changes, whole indicators",
        f"""
DROP TRIGGER passages_unindex
;;
DROP TABLE passages_fts
;;
DELETE FROM passages
;;
DELETE FROM lexical_users
;;
-- What the index holds for the passage (memvault.analysis), kept to take it out again.
ALTER TABLE passages ADD COLUMN analysed TEXT NOT NULL DEFAULT ''
;;
CREATE VIRTUAL TABLE passages_fts USING fts5 (
    content, content='', tokenize="{TOKENIZE}"
)
;;
CREATE TRIGGER passages_unindex BEFORE DELETE ON memories BEGIN
    INSERT INTO passages_fts (passages_fts, rowid, content)
    SELECT 'delete', p.rowid, p.analysed FROM passages p WHERE p.memory_rowid = old.rowid;
    UPDATE lexical_users SET
        passages = passages - (SELECT count(*) FROM passages WHERE memory_rowid = old.rowid),
        tokens = tokens
            - (SELECT coalesce(sum(length), 0) FROM passages WHERE memory_rowid = old.rowid)
    WHERE user_id = old.user_id;
    DELETE FROM passages WHERE memory_rowid = old.rowid;
END
""",
        run=reindex,
    ),
    Migration(
        6,
        "profile-extraction jobs",
        """
-- One job per memory, kept once done (see stores.sqlite.jobs); no foreign key: a job
-- outlives its memory.
CREATE TABLE extraction_jobs (
    memory_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until INTEGER,
    tokens INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER,
    error TEXT
)
;;
CREATE INDEX extraction_jobs_due ON extraction_jobs (state, created_at, memory_id)
;;
CREATE INDEX extraction_jobs_finished ON extraction_jobs (finished_at)
""",
    ),
    Migration(
        7,
        "earlier versions of updated memories",
        """
CREATE TABLE memory_versions (
    memory_rowid INTEGER NOT NULL REFERENCES memories (rowid) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    metadata TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    replaced_at INTEGER NOT NULL,
    PRIMARY KEY (memory_rowid, version)
) WITHOUT ROWID
""",
    ),
    Migration(
        8,
        "memory types: a typed memory's type and data",
        """
ALTER TABLE memories ADD COLUMN type TEXT
;;
ALTER TABLE memories ADD COLUMN data TEXT
;;
ALTER TABLE memory_versions ADD COLUMN data TEXT
;;
CREATE INDEX memories_user_type ON memories (user_id, type, occurred_at) WHERE type IS NOT NULL
""",
    ),
    Migration(
        9,
        "derived memories (session summaries), their sources and the session-summary jobs",
        """
-- NULL for what was said; 'summary' for a session summary written by memvault.
ALTER TABLE memories ADD COLUMN derived_kind TEXT
;;
-- The memories a derived memory was made from, in order; no foreign key on source_id: a
-- deleted source deletes its derived memories (see stores.sqlite.summaries).
CREATE TABLE derived_sources (
    memory_rowid INTEGER NOT NULL REFERENCES memories (rowid) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    source_id TEXT NOT NULL,
    PRIMARY KEY (memory_rowid, position)
) WITHOUT ROWID
;;
CREATE INDEX derived_sources_source ON derived_sources (source_id)
;;
-- One job per session, armed again by each new turn (version + 1, due once idle).
CREATE TABLE summary_jobs (
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until INTEGER,
    tokens INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER,
    error TEXT,
    PRIMARY KEY (user_id, session_id)
)
;;
CREATE INDEX summary_jobs_due ON summary_jobs (state, not_before)
""",
    ),
]

PROFILE = [
    Migration(
        1,
        "profile facts with history and provenance",
        """
CREATE TABLE profile_facts (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    category TEXT NOT NULL,
    source_memory_ids TEXT NOT NULL DEFAULT '[]',
    agent_id TEXT,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER
)
;;
CREATE UNIQUE INDEX profile_current ON profile_facts (user_id, key) WHERE valid_to IS NULL
;;
CREATE INDEX profile_user ON profile_facts (user_id, key, valid_from)
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
    id TEXT PRIMARY KEY,
    name TEXT,
    user_id TEXT NOT NULL,
    agent_id TEXT,
    scope TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    expires_at INTEGER,
    revoked_at INTEGER
)
;;
CREATE INDEX api_keys_user ON api_keys (user_id, created_at)
""",
    ),
    Migration(
        4,
        "the audit trail of writes and deletes",
        """
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    agent_id TEXT,
    action TEXT NOT NULL,
    memory_ids TEXT NOT NULL DEFAULT '[]',
    keys TEXT NOT NULL DEFAULT '[]',
    detail TEXT NOT NULL DEFAULT '{}'
)
;;
CREATE INDEX audit_log_user ON audit_log (user_id, id)
""",
    ),
    Migration(
        5,
        "whether a fact was stated or extracted by a model",
        "ALTER TABLE profile_facts ADD COLUMN origin TEXT NOT NULL DEFAULT 'stated'",
    ),
]

WORKING = [
    Migration(
        1,
        "recent turns per session",
        """
CREATE TABLE working_turns (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    memory_id TEXT NOT NULL,
    agent_id TEXT,
    payload TEXT NOT NULL
)
;;
CREATE INDEX working_turns_session ON working_turns (user_id, session_id, seq)
;;
CREATE INDEX working_turns_memory ON working_turns (user_id, memory_id)
;;
CREATE TABLE working_sessions (
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, session_id)
)
;;
CREATE INDEX working_sessions_expiry ON working_sessions (expires_at)
""",
    ),
]
