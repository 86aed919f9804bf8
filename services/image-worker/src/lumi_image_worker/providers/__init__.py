"""Image generators: the `ImageGenerator` protocol, the offline and instant defaults, and the
hosted adapters. Only this worker calls them, so only its package installs Pillow and numpy."""
