#!/usr/bin/env python3
"""Markdown table of an ncodec audio result (from scripts/eval_audio.sh) next to the Opus,
MP3 and AAC anchors of ../shared/anchors/audio/audio_anchors.json (same metric code).

Usage: scripts/audio_compare.py OUT_DIR/ncodec-audio.json [--anchors PATH] [--codecs opus]
"""
import argparse
import json
import pathlib

COLS = ["kbps", "snr_db", "sisdr_db", "mel_l1", "mel_ms", "pesq_wb", "stoi", "estoi"]


def fmt(v):
    return "–" if v is None else f"{v:.3f}" if abs(v) < 10 else f"{v:.2f}"


def main():
    here = pathlib.Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser()
    ap.add_argument("result")
    ap.add_argument("--anchors", default=str(here / "../shared/anchors/audio/audio_anchors.json"))
    ap.add_argument("--codecs", default="opus")
    a = ap.parse_args()
    ours = json.load(open(a.result))
    anchors = json.load(open(a.anchors))
    for content in ("speech", "music"):
        print(f"\n#### {content} test set (mean over files)\n")
        print("| codec | setting | " + " | ".join(COLS) + " |")
        print("|---|---|" + "---|" * len(COLS))
        rows = [(ours.get("label", "ncodec"), s, r) for s, r in ours["summary"].get(content, {}).items()]
        for codec in a.codecs.split(","):
            rows += [(codec, s, r) for s, r in anchors["summary"][codec][content].items()]
        for codec, s, r in rows:
            print(f"| {codec} | {s} | " + " | ".join(fmt(r.get(c)) for c in COLS) + " |")


if __name__ == "__main__":
    main()
