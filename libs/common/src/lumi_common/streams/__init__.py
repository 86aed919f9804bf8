"""Redis Streams: names, consumer runtime, dead letters."""
