"""Who is calling: opaque bearer tokens, stored hashed, resolved per request."""
