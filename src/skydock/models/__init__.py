"""The wire contract shared by client and server: pydantic and the standard library only."""
