"""3D generation: the `MeshGenerator` protocol, the offline relief generator, the mesh formats
(OBJ + MTL + PNG, GLB) and the hosted adapters. Only this worker calls them, so only its package
installs trimesh, Pillow and numpy."""
