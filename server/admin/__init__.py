"""Partnership administration: handlers on the one write path, the operator channel, the CLI."""
