"""The OpenAPI 3.1 document, generated from the route registry, and the pages that serve it."""
