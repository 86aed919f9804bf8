"""3D models: what a chosen image becomes."""
