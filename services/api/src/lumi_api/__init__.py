"""The Lumi HTTP API service."""
