"""`plan`'s judgements, pure: quantities, LimitRanges, Pod Security, ResourceQuotas, and
the plan of one namespace built from them and the webhook's engine."""
