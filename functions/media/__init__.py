"""The media function."""
