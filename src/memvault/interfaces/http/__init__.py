"""memvault over HTTP: one Starlette app (:mod:`.app`) serving MCP (streamable HTTP or SSE),
the REST API (:mod:`.rest`, declared in :mod:`.operations`, documented by :mod:`.openapi`)
and ``GET /health``, behind one bearer-token check (:mod:`.auth`)."""
