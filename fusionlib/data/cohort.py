"""Cohorts: the synthetic DFU-like cohort (the embedded default) and the container every arm consumes.

A :class:`Cohort` has two tables and one array:

* ``visits`` — one row per wound visit (Patient#, DFU#, Appt#), columns named exactly as in the public
  clinical CSV (``DataMaster_Processed_V12_WithMissing.csv``), label in ``Healing Phase Abs``;
* ``images`` — one row per thermal image row (a wound box in a thermal photograph), with the visit it
  belongs to (``visit``, an index into ``visits``), ``DebriStat`` and ``Angle``;
* ``pixels`` — ``uint8`` array ``(n_images, size, size, 3)``: the preprocessed viridis crops.

The generative model of :func:`make_synthetic_cohort` (a reviewer can check it against the code below):

1. **Patients, wounds, visits.** ``n_patients`` patients; each has ``1 + Binomial(2, 0.2)`` wounds
   (real: 1/2/3 wounds for 58/31/10 % of visits); each wound has ``1 + Poisson(visits_per_wound - 1)``
   appointments numbered 0, 1, ... (Appt Days ~ 14 per appointment, jittered).
2. **Label.** A latent healing score per visit
   ``h = u_patient + v_wound + progression * appt + e``, with ``u ~ N(0, patient_sd)``,
   ``v ~ N(0, wound_sd)``, ``e ~ N(0, visit_sd)``. The label is I / P / R for ``h`` below the 31st
   percentile / between / above the 87th percentile of the cohort's ``h`` — the real priors 31/56/13 %,
   an ordinal label that progresses I -> P -> R over visits, and a patient-level random effect
   (visits of one patient are correlated, so grouping by patient matters).
3. **Metadata.** Patient-level columns (Age, Sex, Weight, ...) and wound-level columns (Side, Location, ...)
   are constant within a patient / wound and carry no label signal by themselves (only through the patient
   effect they identify). Eight visit-level columns carry a weak ordinal signal: each is a thresholded
   ``z = -metadata_signal * w_j * h_std + N(0, 1)`` (``h_std`` = standardised ``h``; ``w_j`` a per-column
   weight in ``SIGNAL_WEIGHTS``), thresholds set to the real column's marginal frequencies. The rest carry
   none. Missing values are punched at roughly the real per-column rates (``MISSING``).
4. **Temperatures.** Per visit of class ``c``: intact skin ``T_s = m_s[c] + b_patient + e``,
   peri-ulcer ``T_p = T_s + (m_p[c] - m_s[c]) + N(0, 0.7)``, wound centre
   ``T_w = T_s + (m_w[c] - m_s[c]) + N(0, 0.9)``, where ``m_*[c]`` are the real per-class means
   (wound I 30.0 / P 29.6 / R 27.8, peri 30.6 / 30.0 / 28.3, skin 30.3 / 30.1 / 28.9 °C) pulled towards
   (``thermal_signal < 1``) or pushed away from (``> 1``) their grand mean, and ``b + e`` has the real
   per-class wound-centre spread (2.7 / 3.0 / 4.1 °C) times ``temperature_spread``, half of its variance
   shared by all visits of a patient. The temperature columns are written to ``visits`` but are not
   metadata features unless asked (see :mod:`fusionlib.data.features`): the image carries them.
5. **Thermal images.** Each visit gets ``2 + Binomial(4, 0.4)`` image rows (angle LW/MW/RW/MZ, before /
   after debridement; real mean 4.6 boxes per visit with images). Each is a :class:`fusionlib.data.thermal.Scene`
   on a 1440 x 1080 frame scaled by ``frame_scale`` — foot ellipse at ``T_s`` with a skin gradient, ambient
   background, peri-ulcer ring at ``T_p``, wound ellipse at ``T_w`` (box size like the real boxes,
   median 63 x 82 px at full resolution), a per-image calibration offset ``N(0, image_offset_sd)`` and pixel
   noise ``N(0, pixel_noise)`` — coloured with a fixed-range viridis map (20-38 °C), black outside a
   circular field of view, then cropped box +- 30 px (scaled), aspect-kept resized and zero padded to
   ``image_size``.

Calibration (``DEFAULTS`` below): under this package's protocol (patient-grouped 5-fold CV, corrected RF),
``metadata_signal`` and ``thermal_signal`` are set so that metadata-only reaches quadratic κ ≈ 0.25 and
thermal-only ≈ 0.15, the report's numbers. ``benchmarks/calibrate.py`` re-measures them. Measured
(5 folds x 1 repeat, quadratic κ per visit): metadata-only 0.249 at ``metadata_signal = 0.5`` (0.276 at 0.55);
image-only 0.114 at ``thermal_signal = 1.0`` (the real class means) and 0.164 at 1.3, hence 1.2 (the real
class-mean differences stretched by 20 %, at the real spread, ``temperature_spread = 1``). The renderer's
noise (``image_offset_sd = 0.3``, ``pixel_noise = 0.3`` °C) is left at plausible camera values.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from fusionlib import io
from fusionlib.cache import store
from fusionlib.data import thermal
from fusionlib.cache import ContentHash, code_key

CLASSES = ("I", "P", "R")
LABEL = "Healing Phase Abs"
VISIT_KEY = ("Patient#", "Appt#", "DFU#")

TEMPERATURE_COLUMNS = (
    "Wound Centre Temperature (°C)",
    "Peri-Ulcer Temperature (°C)",
    "Intact Skin Temperature (°C)",
)
# Real per-class means (°C) for wound centre, peri-ulcer, intact skin; real wound-centre sd per class.
WOUND_MEAN = np.array([30.0, 29.6, 27.8])
PERI_MEAN = np.array([30.6, 30.0, 28.3])
SKIN_MEAN = np.array([30.3, 30.1, 28.9])
WOUND_SD = np.array([2.7, 3.0, 4.1])
PRIORS = (0.31, 0.56, 0.13)

#: Visit-level columns that carry the metadata signal, with their weight (sign: larger z = less healed).
SIGNAL_WEIGHTS = {
    "Exudate Amount (None:0,Minor,Medium,Severe:3)": 1.0,
    "Wound Score": 1.0,
    "Erythema at Peri-ulcer": 0.8,
    "Edema at Peri-ulcer": 0.8,
    "Wound Tunneling": 0.7,
    "Pain Level": 0.5,
    "Exudate Appearance (Serous:1,Haemoserous,Bloody,Thick:4)": 0.6,
    "Odor": 0.4,
}

#: Approximate per-column missing rates of the real CSV.
MISSING = {
    "Weight (Kg)": 0.03, "Height (cm)": 0.03, "Type of Diabetes": 0.03, "Sensory Peripheral": 0.02,
    "Clinical Score": 0.06, "Onset (Days)": 0.04, "Bunion": 0.04, "Claw": 0.04, "Hammer": 0.04,
    "Charcot Arthropathy": 0.05, "Foot Score": 0.06, "Pain Level": 0.01, "Wound Tunneling": 0.02,
    "Exudate Amount (None:0,Minor,Medium,Severe:3)": 0.03,
    "Exudate Appearance (Serous:1,Haemoserous,Bloody,Thick:4)": 0.22, "Odor": 0.02,
    "Erythema at Peri-ulcer": 0.02, "Edema at Peri-ulcer": 0.02, "Pale Colour at Peri-ulcer": 0.02,
    "Maceration at Peri-ulcer": 0.02, "Wound Score": 0.02, "Dressing Grouped": 0.02, "Foot Dry Skin": 0.02,
    "Foot Callus": 0.02, "Offloading: Therapeutic Footwear": 0.01, "Offloading: Scotcast Boot or RCW": 0.01,
    **{c: 0.05 for c in TEMPERATURE_COLUMNS},
}


@dataclass(frozen=True)
class CohortParams:
    """Knobs of the synthetic cohort. ``DEFAULTS`` holds the calibrated values; see the module docstring."""

    n_patients: int = 268
    visits_per_wound: float = 2.3
    patient_sd: float = 1.0
    wound_sd: float = 0.5
    visit_sd: float = 0.7
    progression: float = 0.45
    metadata_signal: float = 0.5
    thermal_signal: float = 1.2
    temperature_spread: float = 1.0
    image_offset_sd: float = 0.3
    pixel_noise: float = 0.3
    frame_scale: float = 0.25
    image_size: int = 32
    seed: int = 0

    def fingerprint(self) -> str:
        """A short hash of every knob: the cohort's identity in caches and results."""
        return ContentHash().update_bytes(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest(12)


DEFAULTS = CohortParams()


@dataclass
class Cohort:
    """Visits, image rows and their pixels; see the module docstring for the columns."""

    visits: pd.DataFrame
    images: pd.DataFrame
    pixels: np.ndarray
    name: str = "cohort"
    params: dict = field(default_factory=dict)

    @property
    def y_visit(self) -> np.ndarray:
        """Integer labels per visit, shape ``(n_visits,)``, 0 = I, 1 = P, 2 = R."""
        return self.visits[LABEL].map({c: i for i, c in enumerate(CLASSES)}).to_numpy(dtype=np.int64)

    @property
    def groups_visit(self) -> np.ndarray:
        """Patient id per visit, shape ``(n_visits,)``."""
        return self.visits["Patient#"].to_numpy()

    @property
    def image_visit(self) -> np.ndarray:
        """Index into ``visits`` of each image row, shape ``(n_images,)``."""
        return self.images["visit"].to_numpy(dtype=np.int64)

    def fingerprint(self) -> str:
        """Hash of the cohort's content (tables and pixels), for caches."""
        return ContentHash().update_bytes(pd.util.hash_pandas_object(self.visits, index=True).values.tobytes(),
                                          pd.util.hash_pandas_object(self.images, index=True).values.tobytes(),
                                          self.pixels.tobytes()).hexdigest(12)


def _ordinal_from_z(z: np.ndarray, freqs: list[float]) -> np.ndarray:
    """Threshold ``z`` into levels 0..k-1 with the given marginal frequencies (level 0 = lowest z)."""
    cuts = np.quantile(z, np.cumsum(freqs)[:-1])
    return np.searchsorted(cuts, z, side="right")


def _patient_table(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Patient-level clinical columns (constant across a patient's visits), no label signal."""
    age = np.clip(rng.normal(61, 11, n), 30, 90).round().astype(int)
    smoking = rng.choice(4, n, p=[0.87, 0.005, 0.035, 0.09])
    alcohol = rng.choice(4, n, p=[0.74, 0.18, 0.05, 0.03])
    return pd.DataFrame({
        "ID": rng.choice(np.arange(1000, 10000), n, replace=False),
        "Patient#": np.arange(1, n + 1),
        "Age": age,
        "Sex (F:0, M:1)": np.where(rng.random(n) < 0.8, "M", "F"),
        "Weight (Kg)": rng.normal(95, 20, n).clip(45, 180).round(1),
        "Height (cm)": rng.normal(177, 9, n).clip(145, 205).round(0),
        "Smoking": smoking,
        "Alcohol Consumption": alcohol,
        "Habits Score": smoking + alcohol,
        "Type of Diabetes": rng.choice([1, 2], n, p=[0.23, 0.77]),
        "Heart Conditions": (rng.random(n) < 0.43).astype(int),
        "Cancer History": (rng.random(n) < 0.11).astype(int),
        "Sensory Peripheral": (rng.random(n) < 0.86).astype(int),
        "Clinical Score": rng.choice([1, 2, 3, 4, 5], n, p=[0.035, 0.155, 0.42, 0.33, 0.06]),
    })


def _wound_table(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Wound-level columns (constant across a wound's visits), no label signal."""
    flags = {c: (rng.random(n) < p).astype(int) for c, p in
             [("Bunion", 0.07), ("Claw", 0.14), ("Hammer", 0.22), ("Charcot Arthropathy", 0.10)]}
    return pd.DataFrame({
        "Side (Left:0, Right:1)": np.where(rng.random(n) < 0.5, "Left", "Right"),
        "Foot Aspect": rng.choice(["Plantar", "Dorsal", "Lateral", "Medial"], n, p=[0.87, 0.10, 0.02, 0.01]),
        "Location Grouped (Hallux:1,Toes,Middle,Heel,Ankle:5)":
            rng.choice(["toes", "Hallux", "middle", "Heel", "ankle"], n, p=[0.40, 0.36, 0.14, 0.085, 0.015]),
        "Onset (Days)": np.exp(rng.normal(np.log(120), 1.1, n)).round(0),
        **flags,
        "Foot Score": sum(flags.values()).clip(0, 3),
    })


def _visit_signal_columns(rng: np.random.Generator, h_std: np.ndarray, patient_idx: np.ndarray,
                          n_patients: int, signal: float) -> dict[str, np.ndarray]:
    """The eight signal-carrying visit columns (see ``SIGNAL_WEIGHTS``) and the signal-free visit columns."""
    n = len(h_std)
    p_noise = rng.normal(0, 0.5, n_patients)[patient_idx]

    def z(col: str) -> np.ndarray:
        return -signal * SIGNAL_WEIGHTS[col] * h_std + p_noise + rng.normal(0, 1, n)

    exud_app = _ordinal_from_z(z("Exudate Appearance (Serous:1,Haemoserous,Bloody,Thick:4)"),
                               [0.36, 0.19, 0.43, 0.02])
    cols = {
        "Pain Level": _ordinal_from_z(z("Pain Level"), [0.80, 0.05, 0.05, 0.04, 0.02, 0.04]),
        "Wound Tunneling": _ordinal_from_z(z("Wound Tunneling"), [0.79, 0.16, 0.04, 0.01]),
        "Exudate Amount (None:0,Minor,Medium,Severe:3)":
            _ordinal_from_z(z("Exudate Amount (None:0,Minor,Medium,Severe:3)"), [0.28, 0.54, 0.18]),
        "Exudate Appearance (Serous:1,Haemoserous,Bloody,Thick:4)":
            np.array(["Serous", "Haemoserous", "Bloody", "Thick"])[exud_app],
        "Odor": np.array(["NoOdor", "Unpleasant"])[_ordinal_from_z(z("Odor"), [0.96, 0.04])],
        "Erythema at Peri-ulcer": _ordinal_from_z(z("Erythema at Peri-ulcer"), [0.87, 0.13]),
        "Edema at Peri-ulcer": _ordinal_from_z(z("Edema at Peri-ulcer"), [0.77, 0.23]),
        "Pale Colour at Peri-ulcer": (rng.random(n) < 0.155).astype(int),
        "Maceration at Peri-ulcer": (rng.random(n) < 0.115).astype(int),
        "Dressing Grouped": rng.choice(["Antiseptic", "AbsorbentDressing", "NoDressing", "BasicDressing",
                                        "AdvancedMethod"], n, p=[0.82, 0.085, 0.045, 0.025, 0.025]),
        "Foot Dry Skin": (rng.random(n) < 0.53).astype(int),
        "Foot Callus": (rng.random(n) < 0.37).astype(int),
        "Offloading: Therapeutic Footwear": (rng.random(n) < 0.43).astype(int),
        "Offloading: Scotcast Boot or RCW": (rng.random(n) < 0.21).astype(int),
    }
    wound_score = (cols["Wound Tunneling"] > 0).astype(int) + cols["Erythema at Peri-ulcer"] \
        + cols["Edema at Peri-ulcer"] + (cols["Exudate Amount (None:0,Minor,Medium,Severe:3)"] > 1)
    cols["Wound Score"] = np.asarray(wound_score, dtype=int).clip(0, 4)
    return cols


def _temperatures(rng: np.random.Generator, y: np.ndarray, patient_idx: np.ndarray, n_patients: int,
                  p: CohortParams) -> np.ndarray:
    """Per-visit (wound, peri, skin) temperatures in °C, shape ``(n_visits, 3)``; see the module docstring."""
    w = np.array(PRIORS)

    def pulled(m: np.ndarray) -> np.ndarray:
        grand = float(w @ m)
        return grand + p.thermal_signal * (m - grand)

    m_w, m_p, m_s = pulled(WOUND_MEAN), pulled(PERI_MEAN), pulled(SKIN_MEAN)
    sd = np.sqrt(np.maximum(WOUND_SD[y] ** 2 * p.temperature_spread ** 2 - 0.9 ** 2, 0.01))
    b = rng.normal(0, 1, n_patients)[patient_idx]
    e = rng.normal(0, 1, len(y))
    skin = m_s[y] + sd * (np.sqrt(0.5) * b + np.sqrt(0.5) * e)
    peri = skin + (m_p - m_s)[y] + rng.normal(0, 0.7, len(y))
    wound = skin + (m_w - m_s)[y] + rng.normal(0, 0.9, len(y))
    return np.stack([wound, peri, skin], axis=1)


def scene(rng: np.random.Generator, temps: np.ndarray, frame: tuple[int, int], scale: float,
          angle: str, p: CohortParams) -> thermal.Scene:
    """One photograph's pose, offsets and noise for a visit with temperatures ``temps = (wound, peri, skin)``."""
    h, w = frame
    zoom = 1.8 if angle.endswith("Z") else 1.0
    half_w = np.exp(rng.normal(np.log(63 / 2), 0.35)) * scale * zoom
    half_h = np.exp(rng.normal(np.log(82 / 2), 0.35)) * scale * zoom
    tilt = {"L": -0.35, "M": 0.0, "R": 0.35}[angle[0]] + rng.normal(0, 0.15)
    cx = w / 2 + rng.normal(0, 0.12) * w
    cy = h / 2 + rng.normal(0, 0.12) * h
    return thermal.Scene(
        wound=float(temps[0]), peri=float(temps[1]), skin=float(temps[2]),
        ambient=float(rng.normal(23.0, 1.0)), offset=float(rng.normal(0, p.image_offset_sd)),
        cx=cx, cy=cy, rx=half_w, ry=half_h, angle=tilt, gradient=float(rng.normal(0, 1.0)),
        foot=(w / 2 + rng.normal(0, 0.03) * w, h / 2, 0.42 * w * zoom, 0.45 * h * zoom),
        fov=0.72, noise=p.pixel_noise)


_CACHE_FORMAT = 1


def cache_key(p: CohortParams) -> str:
    """What a cached cohort depends on: every knob, the code the generator reaches
    (:func:`fusionlib.cache.code_key`) and the NumPy / pandas versions (random streams and pickles may change with
    them). Any change is a cache miss."""
    return ContentHash().update(asdict(p), code_key(make_synthetic_cohort), np.__version__, pd.__version__,
                                _CACHE_FORMAT).hexdigest()


def cache_path(p: CohortParams, cache_dir: str | Path | bool | None = None) -> Path | None:
    """The cache file of the cohort with knobs ``p`` (``None`` when caching is off; the folder:
    :func:`fusionlib.cache.store.cache_dir_of`)."""
    folder = store.cache_dir_of(cache_dir)
    return None if folder is None else folder / f"cohort-{cache_key(p)[:32]}.pkl"


def _read_cache(path: Path, key: str) -> Cohort | None:
    """The cohort stored at ``path``, or ``None`` when it is missing, unreadable or not for ``key``."""
    try:
        with open(path, "rb") as f:
            d = pickle.load(f)
        if not (isinstance(d, dict) and d.get("format") == _CACHE_FORMAT and d.get("key") == key):
            return None
        visits, images, pixels = d["visits"], d["images"], d["pixels"]
        if not (isinstance(visits, pd.DataFrame) and isinstance(images, pd.DataFrame)
                and isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and len(pixels) == len(images)):
            return None
        return Cohort(visits=visits, images=images, pixels=pixels, name=d["name"], params=d["params"])
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a corrupt or foreign cache file is a miss: recomputed and overwritten
        return None


def _write_cache(path: Path, key: str, cohort: Cohort) -> None:
    """Store ``cohort`` at ``path`` atomically (:func:`fusionlib.io.atomic_file`); a cache that cannot be
    written (read-only folder, full disk) is silently skipped."""
    try:
        with io.atomic_file(path) as tmp, open(tmp, "wb") as f:
            pickle.dump({"format": _CACHE_FORMAT, "key": key, "visits": cohort.visits, "images": cohort.images,
                         "pixels": cohort.pixels, "name": cohort.name, "params": cohort.params}, f,
                        protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - the cache is an optimisation: never fail the caller because of it
        pass


def make_synthetic_cohort(params: CohortParams | None = None, cache_dir: str | Path | bool | None = None,
                          **overrides) -> Cohort:
    """Generate the seeded synthetic cohort described in the module docstring.

    ``make_synthetic_cohort(n_patients=60, seed=3)`` overrides single knobs of ``DEFAULTS``.
    Deterministic: the same parameters give identical tables and pixels.

    Cached on disk (see :func:`fusionlib.cache.store.cache_dir_of`, :func:`cache_key`): a cohort generated once is read back from
    ``<cache>/cohort-<key>.pkl`` (identical tables, pixels and fingerprint); an unreadable cache file is
    regenerated and overwritten. ``cache_dir=False`` (or ``FUSIONLIB_CACHE=0``) always generates.
    """
    p = replace(params or DEFAULTS, **overrides)
    if p.n_patients < 10:
        raise ValueError(f"n_patients={p.n_patients}: a cohort needs at least 10 patients")
    if p.image_size < 8:
        raise ValueError(f"image_size={p.image_size}: use at least 8 px (the study uses 32, 64 or 128)")
    path = cache_path(p, cache_dir)
    if path is None:
        return _generate(p)
    key = cache_key(p)
    cohort = _read_cache(path, key)
    if cohort is None:
        cohort = _generate(p)
        _write_cache(path, key, cohort)
    return cohort


def _generate(p: CohortParams) -> Cohort:
    """The cohort of knobs ``p`` (no cache)."""
    rng = np.random.default_rng(p.seed)

    patients = _patient_table(rng, p.n_patients)
    n_wounds = 1 + rng.binomial(2, 0.2, p.n_patients)
    wound_patient = np.repeat(np.arange(p.n_patients), n_wounds)
    wound_dfu = np.concatenate([np.arange(1, k + 1) for k in n_wounds])
    wounds = _wound_table(rng, len(wound_patient))
    n_visits = 1 + rng.poisson(p.visits_per_wound - 1, len(wound_patient))
    visit_wound = np.repeat(np.arange(len(wound_patient)), n_visits)
    appt = np.concatenate([np.arange(k) for k in n_visits])
    visit_patient = wound_patient[visit_wound]

    u = rng.normal(0, p.patient_sd, p.n_patients)
    v = rng.normal(0, p.wound_sd, len(wound_patient))
    h = u[visit_patient] + v[visit_wound] + p.progression * appt + rng.normal(0, p.visit_sd, len(appt))
    cuts = np.quantile(h, [PRIORS[0], PRIORS[0] + PRIORS[1]])
    y = np.searchsorted(cuts, h, side="right")
    h_std = (h - h.mean()) / h.std()

    visits = pd.concat([
        patients.iloc[visit_patient].reset_index(drop=True),
        wounds.iloc[visit_wound].reset_index(drop=True),
    ], axis=1)
    visits.insert(visits.columns.get_loc("Side (Left:0, Right:1)"), "DFU#", wound_dfu[visit_wound])
    visits.insert(visits.columns.get_loc("Clinical Score") + 1, "Number of DFUs", n_wounds[visit_patient])
    visits["Appt#"] = appt
    visits["Appt Days"] = np.where(appt == 0, 0, appt * 14 + rng.integers(-3, 4, len(appt)))
    temps = _temperatures(rng, y, visit_patient, p.n_patients, p)
    for j, col in enumerate(TEMPERATURE_COLUMNS):
        visits[col] = temps[:, j].round(1)
    for col, values in _visit_signal_columns(rng, h_std, visit_patient, p.n_patients, p.metadata_signal).items():
        visits[col] = values
    # Label restatements (never features): sub-grade from the position of h inside its class, and a confidence.
    edges = np.concatenate([[-np.inf], cuts, [np.inf]])
    lo, hi = edges[y], edges[y + 1]
    lo = np.where(np.isinf(lo), h.min(), lo)
    hi = np.where(np.isinf(hi), h.max(), hi)
    frac = (h - lo) / np.maximum(hi - lo, 1e-9)
    visits["Healing Phase"] = np.array(CLASSES)[y] + np.select([frac < 1 / 3, frac > 2 / 3], ["-", "+"], "")
    visits["Phase Confidence (%)"] = rng.choice([70, 75, 80, 85, 90], len(y))
    visits[LABEL] = np.array(CLASSES)[y]
    for col, rate in MISSING.items():
        gap = rng.random(len(visits)) < rate
        if visits[col].dtype.kind in "iufb":
            visits[col] = visits[col].astype(float).where(~gap)
        else:
            visits[col] = visits[col].astype(object).where(~gap)

    images, pixels = _render_images(rng, temps, p)
    return Cohort(visits=visits, images=images, pixels=pixels, name="synthetic",
                  params={"kind": "synthetic", **asdict(p), "fingerprint": p.fingerprint()})


def _render_images(rng: np.random.Generator, temps: np.ndarray, p: CohortParams) -> tuple[pd.DataFrame, np.ndarray]:
    """Image rows (``2 + Binomial(4, 0.4)`` per visit) and their preprocessed crops."""
    per_visit = 2 + rng.binomial(4, 0.4, len(temps))
    visit = np.repeat(np.arange(len(temps)), per_visit)
    angles = rng.choice(["LW", "MW", "RW", "MZ"], len(visit), p=[0.26, 0.34, 0.32, 0.08])
    debri = np.where(rng.random(len(visit)) < 0.6, "A", "B")
    pixels = render_crops(rng, temps, visit, angles, p)
    images = pd.DataFrame({"visit": visit, "DebriStat": debri, "Camera": "T", "Angle": angles})
    return images, pixels


def render_crops(rng: np.random.Generator, temps: np.ndarray, visit: np.ndarray, angles, p: CohortParams) -> np.ndarray:
    """One rendered crop per image row: row ``i`` shows visit ``visit[i]`` (temperatures ``temps[visit[i]]``,
    °C) from camera angle ``angles[i]`` (:func:`scene`), on the full frame scaled by ``p.frame_scale``, cropped
    and padded to ``p.image_size``; ``uint8`` ``(n_rows, size, size, 3)``. Shared by the synthetic and the
    semi-real cohort (:func:`fusionlib.data.dfu.semi_real_cohort`)."""
    frame = (round(thermal.FULL_FRAME[0] * p.frame_scale), round(thermal.FULL_FRAME[1] * p.frame_scale))
    margin = max(1, round(thermal.FULL_MARGIN * p.frame_scale))
    pixels = np.empty((len(visit), p.image_size, p.image_size, 3), dtype=np.uint8)
    for i, (vi, ang) in enumerate(zip(visit, angles)):
        pixels[i] = thermal.render_crop(scene(rng, temps[vi], frame, p.frame_scale, ang, p), frame, margin,
                                        p.image_size, rng)
    return pixels
