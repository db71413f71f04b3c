#!/usr/bin/env python3
"""Side-by-side size of WaLLoC latents: ncodec's entropy coding vs lossless WebP.

The WaLLoC research code stores the rounded latents as a lossless WebP image: the values
shifted to unsigned bytes (+128) and the latent channels tiled into an RGB picture
(channel index c*4 + 2*i + j goes to colour c, tile row i, tile column j; 12 channels ->
a 2h x 2w RGB image). This script codes the *same* latents both ways, so the
reconstruction is identical, and compares whole-file sizes:

  ncx      = `ncodec encode --model-dir MODEL img` (container header included)
  webp     = `cwebp -lossless` of the tiled latents (RIFF header included; cwebp's
             default effort, like the research code's Pillow `save(lossless=True)`)
  webp_z9  = `cwebp -lossless -z 9` (WebP's strongest lossless setting)

It also decodes every WebP file (dwebp) and checks that the latents come back exactly.

Needs: cwebp/dwebp (Debian package `webp`), numpy, Pillow.
Usage: scripts/walloc_webp_compare.py --ncodec target/release/ncodec \
           --model-dir models/weights/walloc-rgb-16x-r1 --data ../shared/datasets/kodak \
           [--quality Q] [--json out.json]
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image


def tile(lat):
    c, h, w = lat.shape
    if c % 3 != 0 or int(round((c // 3) ** 0.5)) ** 2 * 3 != c:
        sys.exit(f"cannot tile {c} channels into RGB (need 3 * n^2)")
    if lat.min() < -128 or lat.max() > 127:
        sys.exit("latents outside 8 bits (a quantisation step below 1): WebP cannot hold them")
    n = int(round((c // 3) ** 0.5))
    u8 = (lat.astype(np.int16) + 128).astype(np.uint8)
    img = u8.reshape(3, n, n, h, w).transpose(1, 3, 2, 4, 0).reshape(n * h, n * w, 3)
    return img, n


def untile(img, n, c, h, w):
    x = img.reshape(n, h, n, w, 3).transpose(4, 0, 2, 1, 3).reshape(c, h, w)
    return x.astype(np.int16) - 128


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ncodec", required=True)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--quality", type=int, help="quality level to encode at (default: the model's)")
    ap.add_argument("--json")
    a = ap.parse_args()
    qual = ["--quality", str(a.quality)] if a.quality is not None else []
    files = sorted(p for p in pathlib.Path(a.data).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    rows = []
    with tempfile.TemporaryDirectory() as td:
        td = pathlib.Path(td)
        for f in files:
            ncx, npy, png, webp, back = (td / f"{f.stem}.{e}" for e in ("ncx", "npy", "png", "webp", "back.png"))
            run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True)
            run(a.ncodec, "encode", str(f), "-o", str(ncx), "--model-dir", a.model_dir, *qual)
            run(a.ncodec, "latents", str(ncx), "-o", str(npy), "--model-dir", a.model_dir)
            lat = np.load(npy)
            img, n = tile(lat)
            Image.fromarray(img, "RGB").save(png)
            webp9 = td / f"{f.stem}.z9.webp"
            run("cwebp", "-lossless", "-quiet", str(png), "-o", str(webp))
            run("cwebp", "-lossless", "-z", "9", "-quiet", str(png), "-o", str(webp9))
            for wp in (webp, webp9):
                run("dwebp", "-quiet", str(wp), "-o", str(back))
                again = untile(np.asarray(Image.open(back).convert("RGB")), n, *lat.shape)
                if not np.array_equal(again, lat):
                    sys.exit(f"{f.name}: WebP did not return the latents exactly")
            w, h = Image.open(f).size
            r = {
                "image": f.name,
                "pixels": w * h,
                "ncx_bytes": ncx.stat().st_size,
                "webp_bytes": webp.stat().st_size,
                "webp_z9_bytes": webp9.stat().st_size,
            }
            r["saving"] = 1 - r["ncx_bytes"] / r["webp_bytes"]
            r["saving_z9"] = 1 - r["ncx_bytes"] / r["webp_z9_bytes"]
            rows.append(r)
            print(f"{f.name}: ncx {r['ncx_bytes']} B  webp {r['webp_bytes']} B "
                  f"({100 * r['saving']:+.1f}% smaller)  webp -z 9 {r['webp_z9_bytes']} B "
                  f"({100 * r['saving_z9']:+.1f}% smaller)", flush=True)
    px = sum(r["pixels"] for r in rows)
    tot_n = sum(r["ncx_bytes"] for r in rows)
    tot_w = sum(r["webp_bytes"] for r in rows)
    tot_9 = sum(r["webp_z9_bytes"] for r in rows)
    summary = {
        "images": len(rows),
        "ncx_bpp": 8 * tot_n / px,
        "webp_bpp": 8 * tot_w / px,
        "webp_z9_bpp": 8 * tot_9 / px,
        "total_saving": 1 - tot_n / tot_w,
        "mean_saving": sum(r["saving"] for r in rows) / len(rows),
        "total_saving_z9": 1 - tot_n / tot_9,
        "mean_saving_z9": sum(r["saving_z9"] for r in rows) / len(rows),
        "quality": a.quality,
        "cwebp": subprocess.run(["cwebp", "-version"], capture_output=True, text=True).stdout.strip(),
    }
    print(json.dumps(summary, indent=2))
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps({"summary": summary, "images": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
