"""Python binding overhead and Ray throughput on a folder of images (Kodak by default).

    python python/examples/bench.py [FOLDER] [--cli target/debug/ncodec] [--ray]

Times `ncodec.encode` and `ncodec.decode` per image (arrays in memory, models loaded
before timing) and compares them with the library's own times for the same images in
`ncodec eval image` (its per-image encode and decode means, PNG reading excluded), run
with the given CLI binary: build both in the same profile. With --ray, also times the
Ray Data example (`ray_encode.encode_folder`, 2 local CPUs) on the folder.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import ncodec

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", nargs="?", type=Path, default=ROOT.parent / "shared/datasets/kodak")
    p.add_argument("--cli", type=Path, default=ROOT / "target/debug/ncodec")
    p.add_argument("--model", default="dwt97s-pf-r2")
    p.add_argument("--quality", type=int, default=7)
    p.add_argument("--ray", action="store_true")
    a = p.parse_args()
    files = sorted(a.folder.glob("*.png"))
    images = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    ncodec.decode(ncodec.encode(images[0], model=a.model, quality=a.quality))  # load
    t = time.perf_counter()
    coded = [ncodec.encode(i, model=a.model, quality=a.quality) for i in images]
    enc = (time.perf_counter() - t) / len(images)
    t = time.perf_counter()
    for c in coded:
        ncodec.decode(c)
    dec = (time.perf_counter() - t) / len(images)
    with tempfile.TemporaryDirectory() as d:
        report = Path(d) / "eval.json"
        subprocess.run(
            [a.cli, "eval", "image", "--model", a.model, "--data", a.folder, "--quality",
             str(a.quality), "--json", report],
            check=True, capture_output=True,
        )  # fmt: skip
        point = json.loads(report.read_text())["points"][0]
    lib_enc, lib_dec = point["encode_seconds"], point["decode_seconds"]
    print(f"{len(images)} images, {a.model} q{a.quality}")
    print(f"encode: python {enc * 1e3:.1f} ms, library (ncodec eval) {lib_enc * 1e3:.1f} ms, "
          f"ratio {enc / lib_enc:.3f}")  # fmt: skip
    print(f"decode: python {dec * 1e3:.1f} ms, library (ncodec eval) {lib_dec * 1e3:.1f} ms, "
          f"ratio {dec / lib_dec:.3f}")  # fmt: skip
    if a.ray:
        import ray
        import ray_encode

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            manifest = ray_encode.encode_folder(a.folder, Path(d), a.model, a.quality)
            secs = time.perf_counter() - t
        ray.shutdown()
        done = sum(r["status"] == "done" for r in manifest)
        print(f"ray (2 local CPUs): {done} images in {secs:.1f} s, {done / secs:.2f} images/s")


if __name__ == "__main__":
    main()
