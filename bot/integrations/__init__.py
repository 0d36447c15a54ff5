"""Adapters that put signoff behind the human-in-the-loop idiom of agent frameworks.

Each adapter is its own module and imports its framework when it is imported, never from
here: ``pip install "signoff[langchain]"`` and ``from bot.integrations.langchain import
SignoffMiddleware``. The base install pulls in none of the frameworks.
"""
