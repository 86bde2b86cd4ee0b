"""JupyterHub on Skydock accounts: authenticator, spawner, hub configuration.

Nothing here imports the server or the engine: the hub talks to Skydock over HTTP, like
any other client, so it can run on another host than the API.
"""
