"""What runs in ``signoff serve``: the HTTP front door, the ack-first executor, and the
composition root that wires ledger, policy, Slack app and escalation sweep together.
"""
