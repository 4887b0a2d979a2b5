"""Audit anyone's fusion: the checks a fusion that "did worse than its parts" needs before anyone believes it.

    python -m fusionlib.audit PREDICTIONS.csv --out DIR        # DIR/report.html, DIR/audit.json; exit 0/1/2

    from fusionlib.audit import audit, read_predictions
    result = audit(read_predictions("predictions.csv"))
    print(result.verdict)

The input (:mod:`fusionlib.audit.inputs`; an example ships as :data:`EXAMPLE`) has one row per scored sample and
model output: the sample, its group (patient), the true label, the model, that model's own fold (and repeat),
optionally the row's role (``test``, or ``train`` for a branch's outputs on the fusion's training rows) and one
probability column per class, in the classes' ordinal order.

The checks (:mod:`fusionlib.audit.checks`), each with its numbers and a group-bootstrap 95 % interval:

1. **split fingerprint** — which samples each model was scored on and under which partition; whether the
   partitions agree; the comparisons redone on the samples all models share;
2. **in-sample detector** — per branch with training rows: confidence, log-loss, calibration error and κ on
   training rows against test rows; a branch whose training rows look in-sample is named;
3. **leakage** — groups in more than one fold, and κ without them;
4. **κ on the same rows** — every model's κ (quadratic and unweighted); the fusion against each modality: paired
   group bootstrap and the corrected resampled t-test (where the partitions agree), Holm-adjusted;
5. **copying** — the fusion's agreement with each modality's prediction, fold by fold;
6. **re-drawn splits** — how much κ moves between re-drawn grouped splits of the same rows;
7. **simple rules** — fixed averages (α = 0 and 1 included), log-linear pooling and stacking, chosen by grouped
   nested CV: would one have beaten the fusion?
8. **a verdict** in words, chosen by the numbers.

Exit codes of the command: 0 no finding, 1 findings, 2 bad input (nothing written).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import checks
from .checks import Check
from .inputs import AuditInputError, Predictions, check_predictions, read_predictions

#: A small example input (two modalities and their fusion, 5 grouped folds; the metadata branch's training-row
#: outputs given with role ``train``), made by :func:`fusionlib.audit.example.example_frame`.
EXAMPLE = Path(__file__).with_name("example.csv")
#: The checks in report order: name -> function of the shared :class:`~fusionlib.audit.checks.Context`.
ORDER = ("split", "in_sample", "leakage", "comparison", "copy", "spread", "rules")


@dataclass
class Audit:
    """An audit's answer: the input's summary, the :class:`~fusionlib.audit.checks.Check` of each check (by
    name, in :data:`ORDER`), the verdict in words and the command's exit code (0: no finding, 1: findings)."""

    source: str
    fusion: str
    models: list
    classes: tuple
    checks: dict
    verdict: str

    @property
    def findings(self) -> list[str]:
        return [name for name, c in self.checks.items() if c.finding]

    @property
    def exit_code(self) -> int:
        return 1 if self.findings else 0


def audit(predictions: Predictions | "pd.DataFrame", fusion: str = "fusion", n_boot: int = 1000, seed: int = 0,
          normalise: bool = False, source: str = "frame") -> Audit:
    """Run every check on ``predictions`` (:class:`~fusionlib.audit.inputs.Predictions`, or a DataFrame in the
    input format, checked here and called ``source`` in messages and the report) and return the :class:`Audit`.
    ``n_boot`` group-bootstrap draws; ``seed`` fixes them and the re-drawn splits. Raises
    :class:`AuditInputError` for bad input."""
    if not isinstance(predictions, Predictions):
        predictions = check_predictions(predictions, fusion=fusion, normalise=normalise, source=source)
    ctx = checks.Context(predictions, n_boot=n_boot, seed=seed)
    found = {"split": checks.split_fingerprint(ctx)}
    copy = checks.copying(ctx)
    found["in_sample"] = checks.in_sample(ctx, _fusion_agreement(ctx))
    found["leakage"] = checks.leakage(ctx)
    found["comparison"] = checks.comparisons(ctx)
    found["copy"] = copy
    found["spread"] = checks.split_spread(ctx)
    found["rules"] = checks.simple_rules(ctx)
    return Audit(predictions.source, predictions.fusion, predictions.models, predictions.classes, found,
                 checks.verdict(found, predictions.fusion))


def _fusion_agreement(ctx: checks.Context) -> dict:
    """Per modality: the share of common samples where the fusion predicts that modality's class."""
    al = ctx.aligned
    return {m: float((al.pred(ctx.pred.fusion) == al.pred(m)).mean()) for m in ctx.pred.modalities}


__all__ = ["audit", "Audit", "Check", "AuditInputError", "Predictions", "read_predictions", "check_predictions",
           "EXAMPLE", "ORDER"]
