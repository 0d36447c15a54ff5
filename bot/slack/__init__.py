"""What runs in the Slack app: the Bolt app and its handlers, reviews, authorisation, the
surfaces (cards, DMs, App Home) and the one Web API adapter that posts and records them.
"""
