"""``signoff demo``: the local Slack server with a web page, the real bot, a throw-away
database and a demo agent, started by one command (see ``docs/demo.md``)."""
