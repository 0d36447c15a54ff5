"""signoff behind the agent frameworks' own human-in-the-loop idioms (issue 18).

Each module imports its framework, so import the one you use (each is an optional extra):
``bot.integrations.openai_agents`` (``signoff[openai-agents]``) and
``bot.integrations.pydantic_ai`` (``signoff[pydantic-ai]``). Nothing is imported here, so
the base install never pulls a framework in.
"""
