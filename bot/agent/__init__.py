"""What runs inside the agent's process: the approval client, the gate around tools, the
argument models and the agent-facing exceptions.

Nothing here serves Slack requests; the agent imports this (through ``from bot import ...``).
"""
