"""Ray Data and PyTorch over folders: the examples, run for real on small folders."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import photo
from PIL import Image

import ncodec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))


def photos(folder: Path, n: int) -> list[Path]:
    """`n` different photos, every other one in a sub-folder."""
    out = []
    for i in range(n):
        p = folder / ("sub" if i % 2 else "") / f"p{i}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.roll(photo(), 11 * i, axis=0)).save(p)
        out.append(p)
    return out


def test_ray_data_encodes_a_folder_and_resumes(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    import ray_encode

    src, dst = tmp_path / "src", tmp_path / "dst"
    files = photos(src, 5)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    # Ray's workers import the example module as the driver does.
    env = {"env_vars": {"PYTHONPATH": str(EXAMPLES)}}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=env)
    try:
        manifest = ray_encode.encode_folder(src, dst)
        again = ray_encode.encode_folder(src, dst)
    finally:
        ray.shutdown()
    status = {r["input"]: r["status"] for r in manifest}
    assert status.pop("broken.png") == "failed"
    assert set(status.values()) == {"done"} and len(status) == 5
    for f in files:
        rel = f.relative_to(src).with_suffix(".ncx")
        want = ncodec.encode(np.asarray(Image.open(f).convert("RGB")))
        assert (dst / rel).read_bytes() == want
    assert {r["status"] for r in again if r["input"] != "broken.png"} == {"skipped"}
    lines = (dst / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(x)["input"] for x in lines)


def test_a_torch_data_loader_decodes_a_folder(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="no CPU build of PyTorch installed")
    from torch.utils.data import DataLoader

    from ncodec.data import NcxFolder

    for i in range(4):
        data = ncodec.encode(np.roll(photo(), 5 * i, axis=1), model="walloc-rgb-16x-r1")
        (tmp_path / f"{i}.ncx").write_bytes(data)
    loader = DataLoader(NcxFolder(tmp_path), batch_size=2, num_workers=2)
    batches = list(loader)
    assert len(batches) == 2
    assert batches[0].shape == (2, 3, 176, 200) and batches[0].dtype == torch.uint8
    latents = list(DataLoader(NcxFolder(tmp_path, latents=True), batch_size=None, num_workers=2))
    assert len(latents) == 4 and latents[0].dtype == torch.int32
