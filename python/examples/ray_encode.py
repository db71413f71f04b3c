"""Encode a folder of images with Ray Data: one task per batch of files, on every core of
every machine of a Ray cluster.

    python python/examples/ray_encode.py PHOTOS/ CODED/ [--model ID] [--quality Q]

On a laptop this starts a local Ray; on a cluster, run it on the head node (or with
`ray job submit`) with PHOTOS/ and CODED/ on storage every node sees (NFS, a mounted
bucket): the same script, nothing else changes. Each image goes to the same relative
path under CODED/ as `.ncx`; outputs already there and complete are skipped, so a rerun
resumes. CODED/manifest.jsonl gets a line per file (input, output, status, bytes, bpp).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import ray
from PIL import Image

import ncodec

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def _encode_row(
    row: dict[str, Any], src: str, dst: str, model: str | None, quality: int | None
) -> dict[str, Any]:
    """Encodes one file of Ray's `read_binary_files` (columns `bytes`, `path`)."""
    rel = os.path.relpath(row["path"], src)
    out = Path(dst) / Path(rel).with_suffix(".ncx")
    record: dict[str, Any] = {"input": rel, "output": str(out)}
    try:
        if out.is_file():
            info = ncodec.info(out.read_bytes())
            record.update(status="skipped", ncx_bytes=info["file_bytes"])
            record["bpp"] = info["bits_per_pixel"]
            return record
        image = np.asarray(Image.open(io.BytesIO(row["bytes"])).convert("RGB"))
        data = ncodec.encode(image, model=model, quality=quality)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(out)  # never a half-written .ncx under its real name
        bpp = len(data) * 8 / (image.shape[0] * image.shape[1])
        record.update(status="done", ncx_bytes=len(data), bpp=bpp)
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the batch
        record.update(status="failed", error=f"{type(e).__name__}: {e}")
    return record


def encode_folder(
    src: Path, dst: Path, model: str | None = None, quality: int | None = None
) -> list[dict[str, Any]]:
    """Encodes every image under `src` to `dst` with Ray Data; returns the manifest."""
    paths = sorted(
        str(p) for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not paths:
        return []
    ds = ray.data.read_binary_files(paths, include_paths=True)
    rows = ds.map(
        functools.partial(_encode_row, src=str(src), dst=str(dst), model=model, quality=quality)
    )
    manifest = sorted(rows.take_all(), key=lambda r: r["input"])
    dst.mkdir(parents=True, exist_ok=True)
    with open(dst / "manifest.jsonl", "w") as f:
        for r in manifest:
            f.write(json.dumps(r) + "\n")
    return manifest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--model")
    p.add_argument("--quality", type=int)
    a = p.parse_args()
    ray.init()
    manifest = encode_folder(a.src, a.dst, a.model, a.quality)
    failed = [r for r in manifest if r["status"] == "failed"]
    print(f"{len(manifest)} files, {len(failed)} failed; manifest {a.dst / 'manifest.jsonl'}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
