"""The Slack surface, the CLI and the composition root that wires everything together."""
