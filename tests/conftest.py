import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Tests never read or write the project's cache (.cache/fusionlib): each session gets its own."""
    old = os.environ.get("FUSIONLIB_CACHE")
    os.environ["FUSIONLIB_CACHE"] = str(tmp_path_factory.mktemp("fusionlib-cache"))
    yield
    if old is None:
        os.environ.pop("FUSIONLIB_CACHE", None)
    else:
        os.environ["FUSIONLIB_CACHE"] = old

#: The public DFU files, read by path only (never committed); tests that need them skip when absent.
DFU_DIR = Path(os.environ.get("DFU_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dfu"))
REAL_CSV = DFU_DIR / "DataMaster_Processed_V12_WithMissing.csv"

needs_real_csv = pytest.mark.skipif(not REAL_CSV.exists(), reason=f"public DFU CSV not found at {REAL_CSV}")


@pytest.fixture(scope="session")
def tiny_cohort():
    from fusionlib.cohort import make_synthetic_cohort

    return make_synthetic_cohort(n_patients=60, seed=1)


@pytest.fixture(scope="session")
def default_cohort():
    from fusionlib.cohort import make_synthetic_cohort

    return make_synthetic_cohort()
