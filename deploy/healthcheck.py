"""HEALTHCHECK of every Lumi image: exit 0 while the service in this container answers healthy.

The API answers on `PORT` (`/api/health`: database and Redis reachable); a worker on its
`HEALTH_PORT` (200 while its read loop turns). Standard library only: it runs in every image.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def probe_url(env: dict[str, str]) -> str:
    if env.get("LUMI_SERVICE") == "lumi-api":
        return f"http://127.0.0.1:{env.get('PORT', '3000')}/api/health"
    return f"http://127.0.0.1:{env.get('HEALTH_PORT', '8081')}/"


def main() -> int:
    url = probe_url(dict(os.environ))
    try:
        with urllib.request.urlopen(url, timeout=4) as response:  # noqa: S310 - a fixed local URL
            return 0 if response.status == 200 else 1
    except (OSError, urllib.error.URLError) as error:
        print(f"{url}: {error}", file=sys.stderr)  # noqa: T201 - the healthcheck's own output
        return 1


if __name__ == "__main__":
    sys.exit(main())
