"""Read-only checks of the target AWS account before a deploy: `make preflight` (issue #9)."""
