"""Tools the agent can call: built-ins and MCP servers, behind one registry."""
