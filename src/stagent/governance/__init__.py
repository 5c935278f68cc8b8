"""Governance: tool permissions (rules, presets, Claude Code settings), approvals and budgets.

The permission-rule engine is pure: `stagent.governance.rules.evaluate` decides a tool call from
rules passed in as values (`stagent.domain.permissions.PermissionRule`).
"""
