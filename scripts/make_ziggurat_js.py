"""Write web/static/ziggurat.js: numpy's float32 ziggurat tables as JavaScript arrays.

Usage:
    python scripts/make_ziggurat_js.py PATH/TO/numpy/random/src/distributions/ziggurat_constants.h

gantool.js draws latents exactly as ``numpy.random.default_rng(seed).standard_normal(..., dtype=float32)``
does, which needs the three tables numpy's ``random_standard_normal_f`` reads: ``ki_float`` (uint32),
``wi_float`` and ``fi_float`` (float). They are copied from numpy's C header rather than recomputed.

A C compiler rounds each decimal literal of the header (``4.66198677960027669255e-07f``) to the
nearest float32 once. JavaScript has no float32 literals: ``Math.fround(4.66...e-07)`` rounds the
decimal to a double first, then to a float32, which can differ in the last bit. So this script
rounds every literal exactly (with fractions) to its float32 value and writes that value's
shortest double spelling, which ``Math.fround`` leaves unchanged. It prints how many literals the
double route would have rounded differently.
"""

from __future__ import annotations

import argparse
import re
from fractions import Fraction
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "web" / "static" / "ziggurat.js"
TABLES = ("ki_float", "wi_float", "fi_float")
LENGTH = 256


def table_literals(header: str, name: str) -> list[str]:
    """The literals of C array ``name`` in ``header``, as written (suffixes dropped)."""
    match = re.search(rf"\b{name}\[\]\s*=\s*\{{(.*?)\}};", header, re.S)
    if not match:
        raise SystemExit(f"{name} not found in the header")
    literals = [re.sub(r"(UL|ULL|U|f|F)$", "", item.strip()) for item in match.group(1).split(",") if item.strip()]
    if len(literals) != LENGTH:
        raise SystemExit(f"{name} has {len(literals)} entries, expected {LENGTH}")
    return literals


def float32_of(literal: str) -> float:
    """The float32 nearest to decimal ``literal`` (ties to even), rounded once, as a Python float."""
    value = Fraction(literal)
    if value == 0:
        return 0.0
    sign = -1 if value < 0 else 1
    value = abs(value)
    exponent = value.numerator.bit_length() - value.denominator.bit_length() - 24
    while value / Fraction(2) ** exponent >= 2**24:
        exponent += 1
    while value / Fraction(2) ** exponent < 2**23:
        exponent -= 1
    if exponent < -149:  # subnormal: numpy's tables have none
        raise SystemExit(f"{literal} is subnormal in float32")
    scaled = value / Fraction(2) ** exponent
    mantissa = round(scaled)  # Fraction rounds half to even
    return sign * float(Fraction(mantissa) * Fraction(2) ** exponent)


def js_array(items: list[str], per_line: int = 8) -> str:
    """A JavaScript array literal of ``items``, ``per_line`` to a line."""
    rows = [", ".join(items[start : start + per_line]) for start in range(0, len(items), per_line)]
    return "[\n  " + ",\n  ".join(rows) + ",\n]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("header", type=Path, help="numpy/random/src/distributions/ziggurat_constants.h")
    args = parser.parse_args()
    header = args.header.read_text()
    ki = [int(literal, 16) for literal in table_literals(header, "ki_float")]
    lines = [
        "// numpy's float32 ziggurat tables (numpy/random/src/distributions/ziggurat_constants.h),",
        "// written by scripts/make_ziggurat_js.py: every float is the exact float32 value of numpy's literal.",
        "",
        f"export const KI_FLOAT = new Uint32Array({js_array([f'0x{v:08x}' for v in ki])});",
    ]
    double_route_differs = 0
    for name in ("wi_float", "fi_float"):
        values = []
        for literal in table_literals(header, name):
            exact = float32_of(literal)
            double_route_differs += float(np.float32(float(literal))) != exact
            values.append(repr(exact))
        lines.append(f"export const {name.upper()} = new Float32Array({js_array(values)});")
    constants = re.findall(r"static const float (ziggurat_nor_(?:inv_)?r_f) = ([0-9.e+-]+)f;", header)
    for name, literal in constants:
        lines.append(f"export const {name.upper()} = {float32_of(literal)!r};")
    if len(constants) != 2:
        raise SystemExit("ziggurat_nor_r_f or ziggurat_nor_inv_r_f not found")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"Wrote {OUT} ({double_route_differs} literals round differently through a double)")


if __name__ == "__main__":
    main()
