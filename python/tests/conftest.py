"""Shared test inputs: the repository's committed fixtures and the ncodec binary."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
PHOTO = FIXTURES / "metrics_a.png"
SPEECH = FIXTURES / "speech_ljspeech_LJ001-0027_0.5-2.0s.wav"
KODAK = ROOT.parent / "shared" / "datasets" / "kodak"


def photo() -> npt.NDArray[np.uint8]:
    """The committed 200 x 176 test photo, RGB."""
    return np.asarray(Image.open(PHOTO).convert("RGB"))


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `ncodec` binary that cargo built (scripts/test.sh builds it first)."""
    found = os.environ.get("NCODEC_BIN") or shutil.which("ncodec")
    for candidate in [found, ROOT / "target" / "debug" / "ncodec"]:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.skip("no ncodec binary: run `cargo build -p ncodec-cli` (scripts/test.sh does)")
