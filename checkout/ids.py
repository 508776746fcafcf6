"""Omise object ids: one rule for every id the shop reads from a browser, a webhook or Omise.

Threat: an id that is not one (`../account`, `chrg_x/capture`, a megabyte of junk) reaching a
URL path of Omise's API, a database lookup or a log line. Every id the shop takes in is checked
here, against one shape: the object's prefix, `test_` in test mode, then 6 to 64 lower-case
letters and digits (Omise's own are about 19).
"""

import re

PREFIXES = ("chrg", "dspt", "evnt", "rfnd", "src", "tokn")
_PATTERNS = {prefix: re.compile(rf"{prefix}_(?:test_)?[0-9a-z]{{6,64}}") for prefix in PREFIXES}


def is_omise_id(prefix: str, value: object) -> bool:
    """Is `value` a well-formed Omise id of this kind (`prefix`: "chrg", "tokn", …)?"""
    return isinstance(value, str) and _PATTERNS[prefix].fullmatch(value) is not None
