"""Users: their profile and their lists of models."""
