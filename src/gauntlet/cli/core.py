"""Top-level commands: demo, serve, intake."""
