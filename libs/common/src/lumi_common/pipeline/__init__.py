"""The generation pipeline's rules: how image and model jobs move their request along."""
