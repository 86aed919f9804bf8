"""Shared library of the Lumi services. Imported by services, never run on its own."""
