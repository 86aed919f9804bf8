"""Whether a secret is plainly weak: too few different characters, a repeated pattern, or too
little entropy by its own character frequencies. It cannot prove a secret strong — only refuse
the ones that are obviously not (`"s" * 32`, `"abcabc…"`, `"changeme" * 4`).

Thresholds: 32 random hex digits (`openssl rand -hex 16`, 128 bits) estimate at about 110 bits
(never below 90 in 100,000 draws) and pass; `secrets.token_urlsafe(32)` at about 190.
"""

from __future__ import annotations

import math
from collections import Counter

MIN_DISTINCT_CHARACTERS = 6
MIN_ESTIMATED_BITS = 80.0


def estimated_bits(secret: str) -> float:
    """Length × the Shannon entropy of the secret's own character frequencies."""
    counts = Counter(secret)
    total = len(secret)
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    return per_char * total


def weakness(secret: str) -> str | None:
    """Why the secret is weak, or None."""
    distinct = len(set(secret))
    if distinct < MIN_DISTINCT_CHARACTERS:
        return f"uses only {distinct} different characters (at least {MIN_DISTINCT_CHARACTERS})"
    if secret in (secret + secret)[1:-1]:
        return "is a pattern repeated"
    bits = estimated_bits(secret)
    if bits < MIN_ESTIMATED_BITS:
        return f"is too predictable (about {bits:.0f} bits; at least {MIN_ESTIMATED_BITS:.0f})"
    return None


GENERATE_HINT = 'python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
