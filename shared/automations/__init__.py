"""Automations: rules that pick a user's drafts and schedule them (service.py), slot maths (rules.py), and the
scheduler step `automations.due` (runner.py, registered when imported)."""
