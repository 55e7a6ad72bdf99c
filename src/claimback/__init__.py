"""claimback: find the Claude Code usage that Anthropic API outages burned, prove it, prevent it."""

__version__ = "0.1.0"
