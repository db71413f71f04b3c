#!/usr/bin/env python3
"""Level-4 WaLLoC latents: the .ncx sizes of an `ncodec eval` report against the WebP
sizes that scripts/walloc_webp_compare.py stored for the same latents.

When only the latent coder changes (not the model or its quantisation), the latents and
so their WebP files are the same, and this needs no cwebp:

  scripts/webp_saving_from_eval.py kodak-eval.json kodak-webp-compare.json
"""
import json, sys
e = json.load(open(sys.argv[1]))
w = json.load(open(sys.argv[2]))
new = {p['name']: p['bytes'] for p in e['per_image'] if p['quality'] == 4}
tn = tw = tz = 0; sav = []; savz = []
for d in w['images']:
    nb = new[d['image']]; tn += nb; tw += d['webp_bytes']; tz += d['webp_z9_bytes']
    sav.append(1 - nb / d['webp_bytes']); savz.append(1 - nb / d['webp_z9_bytes'])
px = sum(d['pixels'] for d in w['images'])
print(f"{len(sav)} images: ncx {8*tn/px:.4f} bpp (was {8*sum(d['ncx_bytes'] for d in w['images'])/px:.4f}), webp {8*tw/px:.4f}, z9 {8*tz/px:.4f}")
print(f"total saving {100*(1-tn/tw):.2f}% (z9 {100*(1-tn/tz):.2f}%), mean per image {100*sum(sav)/len(sav):.2f}% (z9 {100*sum(savz)/len(savz):.2f}%), per image {100*min(sav):.1f}..{100*max(sav):.1f}%")
