"""What an arm is: the table of heads, every switch's allowed values, the conditions, :class:`ArmSettings`.

One place for each of these facts; every other module reads them from here (and imports no Keras to do so).

**The head table** (:data:`HEADS`): one :class:`Head` per model an arm can run, in the order the book lists them.
A head's ``kind`` says how the runner trains it — ``"cnn"`` (the fold's image CNN itself), ``"keras"`` (a Keras
head on the RF and/or image probabilities, :mod:`fusionlib.models.heads`, trained side by side in a bundle) or
``"robust"`` (fitted on the inner validation rows, :mod:`fusionlib.models.fusions`) — and ``inputs`` which
probabilities it reads (``"rf"``, ``"image"``; a *fusion* reads both). ``learns_alpha``: the head outputs a
learned blend weight α. ``in_report``: one of the root-cause report's seven models (each gets an arm page, and
the findings set it beside the report's number, :mod:`fusionstudy.report`). ``builds``: the function of
:mod:`fusionlib.models.heads` or the class of :mod:`fusionlib.models.fusions` that makes it (default: the head's name).

Adding a head is one row here and its function (or class); the experiments, the runner, the grid table, the
arm pages and the findings find it through :func:`heads` and :func:`head`.

**The switches** (:data:`SWITCHES`): the allowed values of every categorical setting of an arm, checked once,
by :func:`check` (:meth:`ArmSettings.from_dict` and the modules' own entry points call it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from fusionlib.data.cohort import CohortParams

RF, IMAGE = "rf", "image"


@dataclass(frozen=True)
class Head:
    """One row of the head table; see the module docstring."""

    name: str
    kind: str
    inputs: tuple = (RF, IMAGE)
    learns_alpha: bool = False
    in_report: bool = False
    builds: str = ""

    @property
    def is_fusion(self) -> bool:
        """The head reads both the RF and the image probabilities."""
        return RF in self.inputs and IMAGE in self.inputs

    @property
    def builder(self) -> str:
        """The name of the function (``kind="keras"``) or class (``kind="robust"``) that makes the head."""
        return self.builds or self.name


KINDS = ("cnn", "keras", "robust")

#: The head table (see the module docstring).
HEADS = (
    Head("metadata_only", "keras", (RF,), in_report=True),
    Head("image_only", "cnn", (IMAGE,), in_report=True),
    Head("baseline", "keras", in_report=True),
    Head("fix1", "keras", in_report=True),
    Head("fix2", "keras", learns_alpha=True, in_report=True),
    Head("fix3", "keras", in_report=True),
    Head("fix23", "keras", learns_alpha=True, in_report=True),
    Head("stacking", "robust", builds="StackingFusion"),
    Head("loglinear", "robust", builds="LogLinearFusion"),
    Head("alpha_grid", "robust", builds="AlphaGridFusion"),
)


def heads(kind: str | None = None, fusion: bool | None = None, in_report: bool | None = None,
          learns_alpha: bool | None = None) -> tuple[Head, ...]:
    """The rows of :data:`HEADS` (in table order) that match every filter given."""
    return tuple(h for h in HEADS if (kind is None or h.kind == kind) and (fusion is None or h.is_fusion == fusion)
                 and (in_report is None or h.in_report == in_report)
                 and (learns_alpha is None or h.learns_alpha == learns_alpha))


def head_names(**filters) -> tuple[str, ...]:
    """The names of :func:`heads` ``(**filters)``."""
    return tuple(h.name for h in heads(**filters))


def head(name: str) -> Head:
    """The row of head ``name``; ``ValueError`` naming the heads there are."""
    for h in HEADS:
        if h.name == name:
            return h
    raise ValueError(f"head={name!r}: use one of {head_names()}")


#: Every categorical switch of an arm and its allowed values (the first is the default where one exists).
SWITCHES = {
    "decomposition": ("ordinal_original", "ordinal", "multiclass"),
    "source": ("in_sample", "oof", "oof_grouped"),
    "forest": ("project", "original"),
    "image": ("frozen", "joint", "chance"),
    "select_on": ("stop_loss", "train_kappa"),
    "inference": ("moving", "batch_by_class", "batch_single"),
    "rf_join": ("correct", "shuffled"),
}


def check(switch: str, value) -> None:
    """``ValueError`` naming the switch and its allowed values unless ``value`` is one of them."""
    allowed = head_names() if switch == "head" else SWITCHES[switch]
    if value not in allowed:
        raise ValueError(f"{switch}={value!r}: use one of {allowed}")


#: The report's conditions and the corrected ones (the RF switches).
CONDITIONS = {
    "report": {"decomposition": "ordinal_original", "source": "in_sample"},
    "corrected": {"decomposition": "ordinal", "source": "oof_grouped"},
}
#: How an arm's title (:attr:`ArmSettings.title`) names each condition and each RF source.
CONDITION_TITLES = {"report": "report's conditions", "corrected": "corrected"}
SOURCE_TITLES = {"in_sample": "in-sample", "oof": "out-of-fold", "oof_grouped": "out-of-fold, grouped"}
#: The keys of ``train`` that define the image CNN (the image_only arm and the frozen image input).
CNN_KEYS = ("epochs", "patience", "width")


@dataclass(frozen=True)
class TrainConfig:
    """How a head is trained (:func:`fusionlib.models.train.fit_head`, :func:`fusionlib.models.bundle.fit_bundle`).

    ``loss``: ``"cross_entropy"`` or ``"focal_ordinal"`` (``focal_gamma``, ``focal_alpha``; the original's
    recipe is gamma 3, alpha 0.598/0.315/1.597). ``class_weight``: inverse-frequency sample weights on the
    training rows (and on the inner validation rows, so early stopping sees the same objective).
    ``oversample``: random oversampling of the training rows to the largest class (the original's recipe).
    ``patience``: epochs without improvement of the inner-validation loss before stopping; the best epoch's
    weights are restored. ``width``: the CNN width factor (:mod:`fusionlib.models.cnn`).
    """

    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    clipnorm: float | None = None
    patience: int = 5
    loss: str = "cross_entropy"
    focal_gamma: float = 2.0
    focal_alpha: tuple[float, float, float] = (1.0, 1.0, 1.0)
    class_weight: bool = True
    oversample: bool = False
    width: float = 0.125


#: The original code base's training recipe (issue 4): focal ordinal loss, Adam 5e-3 with clipnorm 1, random
#: oversampling to the largest class (the focal alpha acts as the class weights).
ORIGINAL_RECIPE = {"loss": "focal_ordinal", "focal_gamma": 3.0, "focal_alpha": (0.598, 0.315, 1.597),
                   "learning_rate": 5e-3, "clipnorm": 1.0, "oversample": True, "class_weight": False}


@dataclass(frozen=True)
class ArmSettings:
    """Everything that defines one arm.

    ``head``: a row of :data:`HEADS`. ``decomposition`` / ``source`` / ``forest``: the RF switches
    (:mod:`fusionlib.models.rf`; ``forest="original"``: the original's forest, fit on visits repeated per image row
    and oversampled).
    ``image``: ``"frozen"`` (the fold's image CNN, trained once), ``"joint"`` (CNN trained end to end with the
    head) or ``"chance"`` (the frozen image probabilities permuted across rows: a thermal branch at chance).
    ``select_on``: the checkpoint rule (``"stop_loss"``, or ``"train_kappa"``: a training metric).
    ``inference``: how BatchNorm runs at prediction (:func:`fusionlib.models.bundle.predict_bundle`). ``rf_join``:
    ``"shuffled"`` attaches the validation visits' RF probabilities to the wrong visits. ``seed``: folds,
    RF, CNN and the heads' batch order; ``init_seed``: the heads' initial weights only. ``cohort`` overrides knobs of
    :class:`fusionlib.data.cohort.CohortParams`; ``train`` overrides fields of :class:`TrainConfig`
    (the CNN uses only :data:`CNN_KEYS` of it); ``rf_trees`` is the forest size (the original's 300).
    Allowed values: :data:`SWITCHES`.
    """

    head: str = "metadata_only"
    decomposition: str = "ordinal"
    source: str = "oof_grouped"
    forest: str = "project"
    image: str = "frozen"
    select_on: str = "stop_loss"
    inference: str = "moving"
    rf_join: str = "correct"
    n_splits: int = 5
    n_repeats: int = 3
    seed: int = 0
    init_seed: int = 0
    include_temperatures: bool = False
    rf_trees: int = 300
    cohort: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    name: str = ""

    @classmethod
    def from_dict(cls, d: dict | "ArmSettings") -> "ArmSettings":
        """Validated settings from a plain dict; an unknown key or value raises ``ValueError`` naming it."""
        if isinstance(d, cls):
            d = asdict(d)
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
        s = cls(**{k: v for k, v in d.items()})
        for key in ("head", *SWITCHES):
            check(key, getattr(s, key))
        bad = set(s.cohort) - {f.name for f in fields(CohortParams)}
        if bad:
            raise ValueError(f"unknown cohort knob(s) {sorted(bad)}")
        bad = set(s.train) - {f.name for f in fields(TrainConfig)}
        if bad:
            raise ValueError(f"unknown train setting(s) {sorted(bad)}")
        if s.n_splits < 2 or s.n_repeats < 1:
            raise ValueError(f"n_splits={s.n_splits}, n_repeats={s.n_repeats}: need n_splits >= 2, n_repeats >= 1")
        h = head(s.head)
        if h.kind == "robust" and s.image == "joint":
            raise ValueError(f"head={s.head!r} fuses frozen probabilities: image='joint' does not apply")
        if not h.is_fusion and s.image != "frozen":
            raise ValueError(f"head={s.head!r}: image={s.image!r} does not apply (use the default 'frozen')")
        return s

    @property
    def spec(self) -> Head:
        """The head's row of :data:`HEADS`."""
        return head(self.head)

    @property
    def label(self) -> str:
        """The arm's name: ``name`` if given, else ``head|decomposition|source`` plus non-default switches."""
        if self.name:
            return self.name
        if RF not in self.spec.inputs:
            return self.head
        extra = [f"{k}={getattr(self, k)}" for k in ("forest", "image", "select_on", "inference", "rf_join",
                                                      "init_seed")
                 if getattr(self, k) != getattr(ArmSettings, k)]
        return "|".join([self.head, self.decomposition, self.source, *extra])

    @property
    def title(self) -> str:
        """The arm's name as a page shows it: ``name`` if given, else the head and, for a head with an RF input,
        its condition (``"fix23 (report's conditions)"``, ``"fix23 (corrected)"``; other RF switches spelled out:
        ``"fix23 (multiclass RF, out-of-fold)"``), then any non-default switch (``"; forest original"``). One title
        per label: it names the same switches."""
        if self.name:
            return self.name
        if RF not in self.spec.inputs:
            return self.head
        cond = self.condition
        what = CONDITION_TITLES[cond] if cond in CONDITION_TITLES else \
            f"{self.decomposition} RF, {SOURCE_TITLES[self.source]}"
        extra = [f"{k.replace('_', ' ')} {getattr(self, k)}" for k in ("forest", "image", "select_on", "inference",
                                                                       "rf_join", "init_seed")
                 if getattr(self, k) != getattr(ArmSettings, k)]
        return f"{self.head} ({what})" + "".join(f"; {e}" for e in extra)

    @property
    def condition(self) -> str:
        """``"report"`` or ``"corrected"`` when the RF switches match :data:`CONDITIONS`, ``""`` for a head without
        an RF input, else ``"other"``."""
        if RF not in self.spec.inputs:
            return ""
        for name, cond in CONDITIONS.items():
            if self.decomposition == cond["decomposition"] and self.source == cond["source"]:
                return name
        return "other"

    def train_config(self) -> TrainConfig:
        return TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.train.items()})

    def cnn_config(self) -> TrainConfig:
        """The image CNN's recipe: the defaults with only :data:`CNN_KEYS` taken from ``train``."""
        return TrainConfig(**{k: v for k, v in self.train.items() if k in CNN_KEYS})

    def cohort_params(self) -> CohortParams:
        return replace(CohortParams(), **self.cohort)


def condition_of(settings: ArmSettings) -> str:
    """:attr:`ArmSettings.condition` (a function, for ``map`` and tables)."""
    return settings.condition
