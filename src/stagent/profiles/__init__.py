"""Agent profiles (who does a task) and blueprints (how a job is done), loaded from files.

Built-ins ship as package data (``builtin/`` and ``blueprints/``); user profiles live under
``$STAGENT_HOME/profiles``, project profiles in ``.claude/skills``; user blueprints under
``$STAGENT_HOME/blueprints``.
"""
