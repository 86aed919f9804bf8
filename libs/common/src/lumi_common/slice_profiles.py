"""The slicing profiles shipped with the slice worker, by name: what the API accepts in a slice
request. The worker holds one `.ini` file per name and refuses to start if one is missing."""

from __future__ import annotations

from enum import StrEnum


class SliceProfile(StrEnum):
    # a 0.4 mm nozzle on a 220 × 220 × 250 mm bed for all of them (the worker's `printer.ini`)
    GENERIC_PLA_020 = "generic-pla-0.20mm"
    GENERIC_PLA_030_DRAFT = "generic-pla-0.30mm-draft"
    GENERIC_PETG_020 = "generic-petg-0.20mm"


DEFAULT_SLICE_PROFILE = SliceProfile.GENERIC_PLA_020
