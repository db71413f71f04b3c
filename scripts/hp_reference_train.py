#!/usr/bin/env python3
"""Reference trainer: CompressAI's mean-scale hyperprior (`mbt2018-mean`, PyTorch CPU)
trained on the same data, patches, batch and λ as `ncodec train image`, to tell whether
our Burn trainer learns as fast per step as the research code.

What is matched: images-train loaded as ncodec loads it (recursive PNG/JPEG, JPEGs
box-downscaled by --jpeg-downscale), random size×size crops with horizontal flips, one
image drawn uniformly per patch, loss λ·255²·MSE + bpp, validation on each val image
centre-cropped to a multiple of 64 (at most 512²), coded with rounding, estimated bpp
and PSNR of the clamped reconstruction averaged over images (as `ncodec train`'s `val`
rows). What is CompressAI's own: its initialisation, its GDN lower bounds, and (with
--recipe compressai) its optimiser recipe: Adam on the main parameters, a second Adam at
lr 1e-3 on the quantiles for the auxiliary loss, total gradient norm clipped at 1.
--recipe ncodec instead uses one Adam over all parameters on loss + aux with each
parameter's gradient norm clipped at 1 and the learning rate ramped up linearly over the
first 200 steps, except the quantiles, which keep lr 1e-3 (`AUX_LR`), as `ncodec train
image` does.

Needs: pip install compressai torch pillow numpy
Usage: scripts/hp_reference_train.py --data DIR --val DIR -o RUN [--steps 1200] ...
Writes RUN/log.csv with rows `step,kind,level,lambda,loss,mse,psnr,bpp,aux,seconds`
as `ncodec train image` does (loss without the auxiliary loss, which has its own column)
and RUN/model.pt.
"""
import argparse
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from compressai.models import MeanScaleHyperprior


def load_folder(root, jpeg_downscale):
    paths = []
    for d, _, files in os.walk(root):
        for f in files:
            if f.lower().endswith((".png", ".jpg", ".jpeg")):
                paths.append(os.path.join(d, f))
    paths.sort()
    images = []
    for p in paths:
        img = Image.open(p).convert("RGB")
        if not p.lower().endswith(".png") and jpeg_downscale > 1:
            img = img.reduce(jpeg_downscale)
        images.append(np.asarray(img))
    return images


def batch(images, size, n, rng):
    out = np.empty((n, 3, size, size), np.float32)
    for b in range(n):
        img = images[rng.randrange(len(images))]
        h, w, _ = img.shape
        y0 = rng.randrange(h - size + 1)
        x0 = rng.randrange(w - size + 1)
        crop = img[y0 : y0 + size, x0 : x0 + size]
        if rng.randrange(2):
            crop = crop[:, ::-1]
        out[b] = crop.transpose(2, 0, 1) / 255.0
    return torch.from_numpy(out)


def rd_terms(x, out):
    b, _, h, w = x.shape
    mse = F.mse_loss(out["x_hat"], x)
    nats = sum(torch.log(l).sum() for l in out["likelihoods"].values())
    return mse, -nats / (b * h * w * math.log(2))


def validate(model, val):
    model.eval()
    sb = sp = 0.0
    with torch.no_grad():
        for img in val:
            h0, w0, _ = img.shape
            w, h = min(w0, 512) // 64 * 64, min(h0, 512) // 64 * 64
            x0, y0 = (w0 - w) // 2, (h0 - h) // 2
            x = torch.from_numpy(
                img[y0 : y0 + h, x0 : x0 + w].transpose(2, 0, 1).astype(np.float32) / 255.0
            )[None]
            out = model(x)
            out["x_hat"] = out["x_hat"].clamp(0, 1)
            mse, bpp = rd_terms(x, out)
            sb += bpp.item()
            sp += 10 * math.log10(1 / mse.item())
    model.train()
    return sb / len(val), sp / len(val)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--val", required=True)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--m", type=int, default=96)
    ap.add_argument("--lam", type=float, default=0.013)
    ap.add_argument("--patch", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--val-every", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--jpeg-downscale", type=int, default=2)
    ap.add_argument("--recipe", choices=["compressai", "ncodec"], default="compressai")
    ap.add_argument(
        "--bound",
        choices=["compressai", "st"],
        default="compressai",
        help="lower bounds' gradient: CompressAI's (passes below the bound only when it "
        "pushes up) or plain straight-through (always passes, as ncodec's bound.rs)",
    )
    a = ap.parse_args()
    if a.bound == "st":
        import compressai.ops.bound_ops as bo

        bo.lower_bound_bwd = lambda x, bound, g: (g, None)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    images = [i for i in load_folder(a.data, a.jpeg_downscale) if min(i.shape[:2]) >= a.patch]
    val = load_folder(a.val, 1)
    print(f"train: {len(images)} images, val: {len(val)}", flush=True)
    model = MeanScaleHyperprior(N=a.n, M=a.m)
    main_params = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux_params = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    if a.recipe == "compressai":
        opt = torch.optim.Adam(main_params, lr=a.lr)
        aux_opt = torch.optim.Adam(aux_params, lr=1e-3)
    else:
        opt = torch.optim.Adam(
            [{"params": main_params, "lr": a.lr, "ramp": True},
             {"params": aux_params, "lr": 1e-3, "ramp": False}]
        )
        aux_opt = None
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, "log.csv"), "w")
    log.write("step,kind,level,lambda,loss,mse,psnr,bpp,aux,seconds\n")
    t0 = time.time()
    acc = [0.0, 0.0, 0.0, 0]
    for step in range(1, a.steps + 1):
        x = batch(images, a.patch, a.batch, rng)
        out = model(x)
        mse, bpp = rd_terms(x, out)
        loss = a.lam * 255**2 * mse + bpp
        aux = model.aux_loss()
        opt.zero_grad()
        if aux_opt is None:
            (loss + aux).backward()
            for p in model.parameters():
                if p.grad is not None:
                    torch.nn.utils.clip_grad_norm_([p], 1.0)
            for g in opt.param_groups:
                if g["ramp"]:
                    g["lr"] = a.lr * min(step, 200) / 200
        else:
            aux_opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(main_params, 1.0)
            aux.backward()
            aux_opt.step()
        opt.step()
        acc[0] += loss.item()
        acc[1] += mse.item()
        acc[2] += bpp.item()
        acc[3] += 1
        if step % 50 == 0:
            l, m, b = (v / acc[3] for v in acc[:3])
            el = time.time() - t0
            print(
                f"step {step} loss {l:.4f} psnr {10 * math.log10(1 / m):.2f} dB "
                f"bpp {b:.4f} aux {aux.item():.1f} | {step / el:.2f} it/s",
                flush=True,
            )
            log.write(
                f"{step},train,all,,{l},{m},{10 * math.log10(1 / m)},{b},{aux.item()},{el:.1f}\n"
            )
            acc = [0.0, 0.0, 0.0, 0]
        if step % a.val_every == 0 or step == a.steps:
            vb, vp = validate(model, val)
            print(f"  val: bpp {vb:.4f} psnr {vp:.2f} dB", flush=True)
            log.write(f"{step},val,0,{a.lam},,,{vp},{vb},,{time.time() - t0:.1f}\n")
        log.flush()
    torch.save(model.state_dict(), os.path.join(a.out, "model.pt"))


if __name__ == "__main__":
    main()
