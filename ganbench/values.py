"""Reading a number a user wrote (a suite's YAML, --set, a trick parameter) strictly, the same way everywhere."""
from __future__ import annotations

import math
import re
from typing import Any


def read_number(value: Any, integer: bool) -> int | float | None:
    """`value` as an int (`integer`: an int, an integral float such as 1e4, or text of either) or a finite float
    (a number, or numeric text: YAML 1.1 reads 2e-4 as text); None for anything else — booleans, nan and inf,
    10.7 where an integer is due, other text, lists."""
    number = value
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text) if integer and re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            return None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return None
    if isinstance(number, int):
        return number if integer else float(number)
    if not math.isfinite(number):
        return None
    if integer:
        return int(number) if number.is_integer() else None
    return number
