"""The HTTP edge and the process: the ASGI app, uvicorn with our TLS, and the cluster
features started beside it.

May import everything below it (certs, cluster, telemetry, core); never the CLI.
"""
