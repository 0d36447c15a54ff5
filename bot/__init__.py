"""signoff: the Slack- and agent-facing side."""
