"""The Cypher text of the graph episodic store (:mod:`memvault.stores.graph.cypher`).

Statements shared by every dialect; ``%(name)s`` slots are filled per call (filters, the
dialect's index calls) and ``$name`` values are query parameters.
"""

from __future__ import annotations

from memvault.stores.codec import MEMORY_COLUMNS

__all__ = [
    "ADD",
    "ADD_MENTIONS",
    "ADJACENT",
    "ANALYSIS",
    "CLEAR_INFO",
    "CLEAR_PENDING",
    "CLEAR_TEXT",
    "COLUMNS",
    "COUNT",
    "COUNT_EMBEDDINGS",
    "COUNT_USER",
    "DELETE",
    "DOOMED",
    "DROP_EMBEDDINGS",
    "DROP_ORPHAN_ENTITIES",
    "DROP_ORPHAN_SESSIONS",
    "DROP_ORPHAN_USER",
    "GET",
    "IDS",
    "INFO",
    "KEYED",
    "LEXICAL",
    "LIST",
    "MAX_NEIGHBOR_HOPS",
    "MISSING",
    "NEIGHBORS_AFTER",
    "NEIGHBORS_BEFORE",
    "PENDING",
    "SET_ANALYSIS",
    "SET_EMBEDDINGS",
    "SET_INFO",
    "SET_TEXT",
    "UNANALYSED",
    "UPDATE",
    "UPDATE_MENTIONS",
    "USER_IDS",
    "VECTOR",
    "VERSIONS",
]

#: ``neighbors`` walks at most this many NEXT links each way.
MAX_NEIGHBOR_HOPS = 100


COLUMNS = MEMORY_COLUMNS

# The insertion counter is locked first (SET), so concurrent adds take turns; rows whose id
# or (user, idempotency key) is stored are dropped (``key_match`` is the key, or '' which no
# memory has); then the new rows get consecutive ``seq`` values, their user, session and
# entity nodes, their pending record when they carry one, and a NEXT link from the latest
# earlier memory of their (user, session), which may be in the same batch.
ADD = """
MERGE (c:Meta {key: 'seq'})
ON CREATE SET c.value = 0
SET c.locked = true
WITH c
UNWIND $rows AS row
OPTIONAL MATCH (existing:Memory {id: row.id})
WITH c, row, existing
WHERE existing IS NULL
OPTIONAL MATCH (keyed:Memory {idempotency_key: row.key_match})
WHERE keyed.user_id = row.user_id
WITH c, row, keyed
WHERE keyed IS NULL
WITH c, row
ORDER BY row.idx
WITH c, collect(row) AS fresh
WITH c, fresh, c.value AS base
SET c.value = base + size(fresh)
WITH fresh, base
UNWIND range(0, size(fresh) - 1) AS i
WITH fresh[i] AS row, base + i + 1 AS seq
CREATE (m:Memory {id: row.id, user_id: row.user_id, agent_id: row.agent_id,
    session_id: row.session_id, content: row.content, text: row.text,
    occurred_at: row.occurred_at,
    created_at: row.created_at, metadata: row.metadata, metadata_pairs: row.metadata_pairs,
    source: row.source, entities: row.entities, seq: seq,
    idempotency_key: row.idempotency_key, request_hash: row.request_hash,
    type: row.type, data: row.data, data_pairs: row.data_pairs})
WITH m, row
MERGE (u:User {id: row.user_id})
CREATE (u)-[:HAS]->(m)
FOREACH (facts IN CASE WHEN row.pending IS NULL THEN [] ELSE [row.pending] END |
    CREATE (:Pending {memory_id: row.id, user_id: row.user_id, facts: facts,
        created_at: row.created_at}))
FOREACH (name IN row.entity_names |
    MERGE (e:Entity {user_id: row.user_id, name: name})
    MERGE (m)-[:MENTIONS]->(e))
FOREACH (sid IN CASE WHEN row.session_id IS NULL THEN [] ELSE [row.session_id] END |
    MERGE (s:Session {user_id: row.user_id, id: sid})
    CREATE (m)-[:IN_SESSION]->(s))
WITH m
OPTIONAL MATCH (p:Memory {user_id: m.user_id, session_id: m.session_id})
WHERE p.seq < m.seq
WITH m, max(p.seq) AS prev_seq
OPTIONAL MATCH (p:Memory {user_id: m.user_id, session_id: m.session_id, seq: prev_seq})
FOREACH (x IN CASE WHEN p IS NULL THEN [] ELSE [1] END | CREATE (p)-[:NEXT]->(m))
RETURN m.id AS id, m.seq AS seq
ORDER BY seq
"""

GET = f"""
UNWIND $ids AS wanted
MATCH (m:Memory {{id: wanted}})
WHERE m.user_id = $user_id
RETURN {COLUMNS}
"""

LIST = f"""
MATCH (m:Memory)%(mentions)s
WHERE %(filter)s
RETURN {COLUMNS}
ORDER BY m.occurred_at DESC, m.id DESC
LIMIT $limit
"""

IDS = "MATCH (m:Memory)%(mentions)s WHERE %(filter)s RETURN m.id"

# One index query per term, scores summed: FalkorDB scores an OR query poorly. The index
# weighs a term by statistics of the whole graph, so each term's scores are divided by the
# best among the user's matches (what is left depends on the memory alone) and weighted by
# the term's rarity among the user's own memories: other users never move a user's scores.
LEXICAL = """
MATCH (u:Memory {user_id: $f_user_id})
WITH count(u) AS memories
UNWIND $queries AS query
%(fulltext_call)s
WITH memories, query, node AS m, score
%(mentions)s
WHERE %(filter)s
WITH memories, query, collect([m, score]) AS hits, max(score) AS best
WITH query, hits, best, log(1.0 + toFloat(memories) / size(hits)) AS rarity
UNWIND hits AS hit
WITH hit[0] AS m, CASE WHEN best > 0 THEN rarity * hit[1] / best ELSE rarity END AS part
WITH m, sum(part) AS total
ORDER BY total DESC, m.seq ASC
LIMIT $limit
RETURN m.id, total
"""

# Every hit of the index comes back, with a null id where the filter rejects it, so that
# the caller can tell a selective filter from an exhausted index.
VECTOR = """
%(vector_call)s
WITH node, %(similarity)s AS similarity
OPTIONAL MATCH (m:Memory)-[:EMBEDDING]->(node)%(mentions)s
WHERE %(filter)s
RETURN m.id AS id, similarity
ORDER BY similarity DESC
"""

NEIGHBORS_BEFORE = f"""
MATCH (anchor:Memory {{id: $id}})
WHERE anchor.user_id = $user_id
MATCH path = (m:Memory)-[:NEXT*1..{MAX_NEIGHBOR_HOPS}]->(anchor)
WITH m, length(path) AS depth
WHERE depth <= $hops
RETURN {COLUMNS}, depth
ORDER BY depth DESC
"""

NEIGHBORS_AFTER = f"""
MATCH (anchor:Memory {{id: $id}})
WHERE anchor.user_id = $user_id
MATCH path = (anchor)-[:NEXT*1..{MAX_NEIGHBOR_HOPS}]->(m:Memory)
WITH m, length(path) AS depth
WHERE depth <= $hops
RETURN {COLUMNS}, depth
ORDER BY depth ASC
"""

ADJACENT = """
MATCH (m:Memory)
WHERE m.user_id = $user_id AND m.id IN $ids
OPTIONAL MATCH (p:Memory)-[:NEXT]->(m)
OPTIONAL MATCH (m)-[:NEXT]->(n:Memory)
RETURN m.id, p.id, n.id
"""

DOOMED = """
MATCH (d:Memory)
WHERE d.user_id = $user_id AND d.id IN $ids
RETURN d.id, d.entities, d.session_id
"""

# Each surviving successor of a deleted memory is linked to the latest surviving memory
# before it in its session (the NEXT chain is the session's memories in ``seq`` order).
DELETE = """
MATCH (d:Memory)-[:NEXT]->(n:Memory)
WHERE d.user_id = $user_id AND d.id IN $ids AND NOT n.id IN $ids
OPTIONAL MATCH (p:Memory {user_id: n.user_id, session_id: n.session_id})
WHERE p.seq < n.seq AND NOT p.id IN $ids
WITH n, max(p.seq) AS prev_seq
OPTIONAL MATCH (p:Memory {user_id: n.user_id, session_id: n.session_id, seq: prev_seq})
FOREACH (x IN CASE WHEN p IS NULL THEN [] ELSE [1] END | CREATE (p)-[:NEXT]->(n))
WITH count(*) AS relinked
MATCH (d:Memory)
WHERE d.user_id = $user_id AND d.id IN $ids
OPTIONAL MATCH (d)-[:VERSION]->(old:MemoryVersion)
WITH d, collect(old) AS olds
FOREACH (x IN olds | DETACH DELETE x)
WITH d
OPTIONAL MATCH (d)-[:EMBEDDING]->(v:Embedding)
FOREACH (x IN CASE WHEN v IS NULL THEN [] ELSE [v] END | DETACH DELETE x)
DETACH DELETE d
RETURN count(*)
"""

DROP_ORPHAN_ENTITIES = """
UNWIND $names AS name
MATCH (e:Entity {user_id: $user_id, name: name})
WHERE NOT %(mentioned)s
DELETE e
"""

DROP_ORPHAN_SESSIONS = """
UNWIND $sessions AS sid
MATCH (s:Session {user_id: $user_id, id: sid})
WHERE NOT %(in_session)s
DELETE s
"""

DROP_ORPHAN_USER = """
MATCH (u:User {id: $user_id})
WHERE NOT %(has)s
DELETE u
"""

KEYED = f"""
UNWIND $keys AS wanted
MATCH (m:Memory {{idempotency_key: wanted}})
WHERE m.user_id = $user_id
RETURN {COLUMNS}, m.idempotency_key, m.request_hash
"""

# A pending record outlives its memory: it is matched by itself, never through the memory.
PENDING = """
MATCH (p:Pending)
WHERE $before IS NULL OR p.created_at < $before
RETURN p.memory_id, p.user_id, p.facts, p.created_at
ORDER BY p.created_at, p.memory_id
LIMIT $limit
"""

CLEAR_PENDING = """
UNWIND $ids AS wanted
MATCH (p:Pending {memory_id: wanted})
WHERE p.user_id = $user_id
DELETE p
"""

COUNT = "MATCH (m:Memory) RETURN count(m)"
COUNT_USER = "MATCH (m:Memory {user_id: $user_id}) RETURN count(m)"
USER_IDS = "MATCH (m:Memory) RETURN DISTINCT m.user_id AS user_id ORDER BY user_id"
INFO = "MATCH (x:Meta {key: 'embedding'}) RETURN x.value"
SET_INFO = "MERGE (x:Meta {key: 'embedding'}) SET x.value = $value"
CLEAR_INFO = "MATCH (x:Meta {key: 'embedding'}) DELETE x"
COUNT_EMBEDDINGS = "MATCH (v:Embedding) RETURN count(v)"
DROP_EMBEDDINGS = "MATCH (v:Embedding) DETACH DELETE v"

# Memories written before their text was analysed, or by an older analysis.
UNANALYSED = """
MATCH (m:Memory)
WHERE m.text IS NULL
RETURN m.id, m.content
LIMIT $limit
"""

SET_TEXT = """
UNWIND $rows AS row
MATCH (m:Memory {id: row.id})
SET m.text = row.text
"""

ANALYSIS = "MATCH (x:Meta {key: 'analysis'}) RETURN x.value"
SET_ANALYSIS = "MERGE (x:Meta {key: 'analysis'}) SET x.value = $value"
CLEAR_TEXT = "MATCH (m:Memory) WHERE m.text IS NOT NULL REMOVE m.text"

MISSING = """
MATCH (m:Memory)
WHERE NOT %(embedded)s
RETURN m.id, m.content, m.user_id
ORDER BY m.seq
LIMIT $limit
"""

SET_EMBEDDINGS = """
UNWIND $items AS item
MATCH (m:Memory {id: item.id})
MERGE (m)-[:EMBEDDING]->(v:Embedding)
ON CREATE SET v.user_id = m.user_id, v.embedding = %(vector_value)s
"""

# The stored version becomes a :MemoryVersion numbered after the memory's earlier ones, then
# the given fields (null: kept) replace the memory's; new content drops the memory's vector.
# One statement: concurrent updates of a memory take turns on its node.
UPDATE = f"""
MATCH (m:Memory {{id: $id}})
WHERE m.user_id = $user_id
SET m.locked = true
WITH m
OPTIONAL MATCH (m)-[:VERSION]->(old:MemoryVersion)
WITH m, coalesce(max(old.version), 0) AS last
CREATE (m)-[:VERSION]->(:MemoryVersion {{user_id: m.user_id, version: last + 1,
    content: m.content, metadata: m.metadata, occurred_at: m.occurred_at,
    replaced_at: $at, data: m.data}})
SET m.content = coalesce($content, m.content),
    m.text = coalesce($text, m.text),
    m.entities = coalesce($entities, m.entities),
    m.metadata = coalesce($metadata, m.metadata),
    m.metadata_pairs = coalesce($metadata_pairs, m.metadata_pairs),
    m.occurred_at = coalesce($occurred_at, m.occurred_at),
    m.data = coalesce($data, m.data),
    m.data_pairs = coalesce($data_pairs, m.data_pairs)
REMOVE m.locked
WITH m
OPTIONAL MATCH (m)-[:EMBEDDING]->(v:Embedding)
WITH m, collect(v) AS vectors
FOREACH (x IN CASE WHEN $content IS NULL THEN [] ELSE vectors END | DETACH DELETE x)
RETURN {COLUMNS}
"""

# The memory's mentions become those of its new content (with ADD_MENTIONS; the entities
# left unmentioned go with DROP_ORPHAN_ENTITIES).
UPDATE_MENTIONS = """
MATCH (m:Memory {id: $id})-[r:MENTIONS]->(e:Entity)
WHERE m.user_id = $user_id AND NOT e.name IN $names
DELETE r
"""

ADD_MENTIONS = """
MATCH (m:Memory {id: $id})
WHERE m.user_id = $user_id
FOREACH (name IN $names |
    MERGE (e:Entity {user_id: m.user_id, name: name})
    MERGE (m)-[:MENTIONS]->(e))
"""

VERSIONS = """
MATCH (m:Memory {id: $id})-[:VERSION]->(v:MemoryVersion)
WHERE m.user_id = $user_id
RETURN v.version, v.content, v.metadata, v.occurred_at, v.replaced_at, v.data
ORDER BY v.version
"""
