"""Providers: prompt variants, images and 3D models behind Protocols, with offline defaults.

The modules are imported one by one on purpose: `images`, `meshes` and `downloads` need the
workers' extras (Pillow, numpy, trimesh, aiohttp) and must stay out of the API's imports.
"""
