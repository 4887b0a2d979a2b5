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

@pytest.fixture(autouse=True, scope="session")
def _no_download(tmp_path_factory):
    """Tests never reach the internet nor the user's cache: the public files' downloads (fusionlib.data.datasets) go
    to a closed local port and into a session cache, unless a test points them at its own local server."""
    old = {k: os.environ.get(k) for k in ("DFU_DATA_URL", "DFU_CACHE_DIR")}
    os.environ["DFU_DATA_URL"] = "http://127.0.0.1:9"
    os.environ["DFU_CACHE_DIR"] = str(tmp_path_factory.mktemp("dfu-cache"))
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v

#: The public DFU files, read by path only (never committed); tests that need them skip when absent.
DFU_DIR = Path(os.environ.get("DFU_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dfu"))
REAL_CSV = DFU_DIR / "DataMaster_Processed_V12_WithMissing.csv"

needs_real_csv = pytest.mark.skipif(not REAL_CSV.exists(), reason=f"public DFU CSV not found at {REAL_CSV}")


@pytest.fixture(scope="session")
def tiny_cohort():
    from fusionlib.data.cohort import make_synthetic_cohort

    return make_synthetic_cohort(n_patients=60, seed=1)


@pytest.fixture(scope="session")
def default_cohort():
    from fusionlib.data.cohort import make_synthetic_cohort

    return make_synthetic_cohort()
