"""The operators' side of the API: `/api/admin/…` (administrators only) and the `/ops` console."""
