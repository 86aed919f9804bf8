"""The Lumi slice worker service: models into printer G-code (PrusaSlicer)."""
