"""The MCP server: tools generated from the release-command registry, with human gates
on the commands that change something irreversible (docs/mcp.md)."""
