"""Webhooks: task events delivered, signed, to the URLs users registered or passed as
`callbackUrl`, as jobs of the webhook worker."""
