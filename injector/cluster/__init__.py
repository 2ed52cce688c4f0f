"""Everything that talks to kube-apiserver, off the admission hot path.

`transport` is the client seam (the only importer of the official `kubernetes` client);
`kubeapi` names every API call; `watch` keeps list+watch views; the rest are features built
on them: the namespace cache, the server version, webhook registration, Events and audit.

May import the core and telemetry; never the certificate lifecycle, the server or the CLI.
"""
