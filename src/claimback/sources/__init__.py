"""Sources: Claude Code transcripts, Anthropic's status page, statusline snapshots, OpenTelemetry."""
