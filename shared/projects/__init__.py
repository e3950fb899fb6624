"""Projects (seed 004): a user's folders for media, jobs and items."""
