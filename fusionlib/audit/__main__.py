"""``python -m fusionlib.audit PREDICTIONS.csv --out DIR``: audit a fusion's predictions (see
:mod:`fusionlib.audit`). Exit codes: 0 no finding, 1 findings, 2 bad input (one line on stderr, nothing
written)."""

from __future__ import annotations

import argparse
import sys

from . import EXAMPLE, audit
from .inputs import AuditInputError, read_predictions
from .render import write_report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fusionlib.audit", description=__doc__.split("\n")[0].strip("`"))
    ap.add_argument("predictions", nargs="?", help=f"the input CSV (format: fusionlib.audit; example: {EXAMPLE})")
    ap.add_argument("--out", help="folder for report.html and audit.json")
    ap.add_argument("--fusion", default="fusion", help="the fused model's name in column 'model' (default: fusion)")
    ap.add_argument("--normalise", action="store_true", help="divide each row's probabilities by their sum")
    ap.add_argument("--n-boot", type=int, default=1000, help="group-bootstrap draws (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--title", default="Fusion audit")
    ap.add_argument("--example", action="store_true", help="print the path of the shipped example input and exit")
    a = ap.parse_args(argv)
    if a.example:
        print(EXAMPLE)
        return 0
    if not a.predictions or not a.out:
        ap.print_usage(sys.stderr)
        print("python -m fusionlib.audit: give the predictions CSV and --out DIR", file=sys.stderr)
        return 2
    if a.n_boot < 100:
        print(f"python -m fusionlib.audit: --n-boot {a.n_boot}: use at least 100 draws", file=sys.stderr)
        return 2
    try:
        result = audit(read_predictions(a.predictions, fusion=a.fusion, normalise=a.normalise), n_boot=a.n_boot,
                       seed=a.seed)
    except AuditInputError as e:
        print(f"bad input: {e}", file=sys.stderr)
        return 2
    paths = write_report(result, a.out, a.title)
    print(result.verdict)
    print(f"findings: {', '.join(result.findings) or 'none'}; report {paths['html']}, JSON {paths['json']}")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
