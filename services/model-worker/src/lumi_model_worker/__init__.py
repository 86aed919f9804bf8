"""The Lumi model worker service."""
