"""Ways in: MCP (:mod:`.mcp`), the CLI (:mod:`.cli`) and the sync SDK (:mod:`.sdk`)."""
