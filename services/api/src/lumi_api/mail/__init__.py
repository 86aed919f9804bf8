"""Sending e-mail (login codes): over SMTP in deployments, into the log in development."""
