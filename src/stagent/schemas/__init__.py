"""Face-neutral shapes of Stagent's objects: what the API, every ``--json`` and (later) the MCP
tools return, so the faces cannot drift apart."""
