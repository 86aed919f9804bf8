"""The Lumi image worker service."""
