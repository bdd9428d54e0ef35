"""Ways in: MCP (:mod:`.mcp`), HTTP with MCP, REST and health in one app (:mod:`.http`), the
CLI (:mod:`.cli`) and the sync SDK (:mod:`.sdk`).

Shared by them: :mod:`.runtime` (the server's hold on its Memvault), :mod:`.identity` (who a
call acts for) and :mod:`.schemas` (the arguments' texts and bounds). :mod:`.serve` puts the
MCP server and the HTTP app together; :mod:`.mcp` and :mod:`.http` never import each other.
"""
