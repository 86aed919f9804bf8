"""The caller's profile: `/auth/me` (with stats) and `/users/update`."""
