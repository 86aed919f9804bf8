"""Stored files, served publicly at absolute URLs."""
