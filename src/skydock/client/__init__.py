"""The Skydock Python client (arrives with the platform service); never imports the server."""

__all__: list[str] = []
