"""Adapters that put signoff behind the human-in-the-loop idiom of agent frameworks.

Each adapter is its own module and imports its framework when it is imported, never from
here, so the base install pulls in none of them: ``bot.integrations.langchain``
(``signoff[langchain]``), ``bot.integrations.openai_agents`` (``signoff[openai-agents]``)
and ``bot.integrations.pydantic_ai`` (``signoff[pydantic-ai]``).
"""
