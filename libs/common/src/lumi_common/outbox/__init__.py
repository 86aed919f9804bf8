"""Transactional outbox: events written with the change they announce, published by the relay."""
