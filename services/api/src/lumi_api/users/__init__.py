"""Users: their profile and stats (`profile`), and the lists of their models."""
