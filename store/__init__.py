"""signoff ledger: tickets, decisions, audit chain."""
