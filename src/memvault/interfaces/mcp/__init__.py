"""The MCP server: :mod:`.server` builds it, :mod:`.tools` holds its tools, :mod:`.stdio`
serves it over stdin/stdout (the HTTP transports are :mod:`memvault.interfaces.http`)."""
