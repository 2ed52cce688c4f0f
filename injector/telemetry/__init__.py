"""What the process tells its operators: Prometheus metrics and structured logs.

May import the core (for its closed sets of reason codes) and prometheus-client; nothing
that serves HTTP or talks to the cluster.
"""
