#!/usr/bin/env python3
"""Encode throughput of the research `walloc` package (PyPI, PyTorch CPU) on one image,
for a side-by-side with `cargo bench -p ncodec --bench image` (WaLLoC `latents`).

Configuration: Codec2D(channels=3, J=3, latent_dim=12, latent_bits=8,
lightweight_encode=True), the paper's RGB 16x setting. The encoder does not depend on the
decoder width, and its cost does not depend on the weights, so an untrained instance
times the same work as a trained one: wavelet packet analysis (pytorch_wavelets),
1x1 convolution, companding and rounding. `research` adds what the research code does to
store the latents: tiling into an RGB picture and saving it as lossless WebP (Pillow).

Needs: pip install walloc pytorch_wavelets diffusers einops torch torchvision pillow
(and setuptools<81 for pytorch_wavelets' pkg_resources import).
Usage: scripts/walloc_speed_python.py IMAGE [--threads N] [--runs 30]
"""
import argparse
import io
import time

import numpy as np
import torch
from PIL import Image
from walloc.walloc import Codec2D, latent_to_pil


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    img = np.asarray(Image.open(a.image).convert("RGB"), dtype=np.float32) / 255.0 - 0.5
    x = torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0).contiguous()
    h, w = x.shape[2:]
    codec = Codec2D(channels=3, J=3, Ne=None, Nd=64, latent_dim=12, latent_bits=8,
                    lightweight_encode=True).eval()

    def encode():
        with torch.no_grad():
            return codec.encoder(codec.wavelet_analysis(x, J=codec.J))

    def research():
        y = encode()
        buf = io.BytesIO()
        latent_to_pil(y.to(torch.int8).cpu(), 8, 3)[0].save(buf, format="WEBP", lossless=True)
        return buf.getvalue()

    for name, f in (("encode", encode), ("research", research)):
        for _ in range(3):
            f()
        times = []
        for _ in range(a.runs):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        med = float(np.median(times))
        print(f"{name}: median {med * 1e3:.2f} ms per {w}x{h} image, "
              f"{w * h / med / 1e6:.1f} MP/s ({a.threads} threads, torch {torch.__version__})")


if __name__ == "__main__":
    main()
