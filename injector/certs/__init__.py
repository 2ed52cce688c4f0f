"""The serving certificate's whole lifecycle.

`issuing` makes CAs and leaves; `authority` decides (purely) when to renew and rotate;
the stores keep the material (`directory_store` on disk, `cluster_store` in a Secret with
`leader` electing the one issuer, `external_files` for mounted cert-manager files);
`serving_cert` and `tls_context` put a new pair into the live TLS listener; `cabundle`
publishes the CA bundle; `modes` chooses and wires one of the three modes.

May import the core, telemetry and the cluster edge; never the server or the CLI.
"""
