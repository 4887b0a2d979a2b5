"""Evaluation: metrics from pooled out-of-fold predictions (:mod:`.metrics`) and paired comparisons of arms
(:mod:`.stats`)."""
