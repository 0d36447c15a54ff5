"""signoff escalation: policy, routes, on-call chains, the sweep."""
