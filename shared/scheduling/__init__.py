"""The scheduler's steps: automations, recurring and deferred jobs, housekeeping."""
