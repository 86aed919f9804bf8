"""The Lumi webhook worker service."""
