"""What runs inside the agent's process: the approval client, the gate around tools (the
``Enforcer`` runs exactly what was approved), the agent-facing exceptions, and the one
interface the client reaches signoff through (``ApprovalBackend``; ``InProcessBackend`` works
on the ledger and Slack directly).

Nothing here serves Slack requests; the agent imports this (through ``from bot import ...``).
"""
