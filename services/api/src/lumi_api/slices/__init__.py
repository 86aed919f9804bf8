"""Slicing: a model into printer G-code, by the slice worker; the apps poll its status."""
