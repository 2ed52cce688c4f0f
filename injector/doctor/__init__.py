"""`doctor`: an installed injector checked against a live cluster, one verdict per check.

`report` (a check's verdict, the text and JSON renderings, the exit status), then the
checks: `registration_checks` (our webhook configuration, the certificate it trusts, the
Lease and the Secret), `placement_checks` (other webhooks, namespaces, PodSecurity,
native sidecars), `istio_checks` (Istio's ConfigMaps, read and current), and `run` (all
of them in order). The judgements are pure and tested on their own: `webhook_order`
(which other webhooks reach our Pods first), `pod_security` (which levels refuse
istio-init) and `settings_metrics` (our replicas' /metrics, as far as doctor reads it).
"""
