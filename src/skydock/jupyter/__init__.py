"""JupyterHub glue (arrives with the hosted Jupyter issue)."""
