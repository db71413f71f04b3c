"""Train-time loading of coded images: a PyTorch DataLoader over a folder of .ncx files.

    python python/examples/torch_loader.py CODED/

Two worker processes decode files in parallel and yield uint8 tensors C x H x W (or, with
--latents, the int32 latents of the files, read without synthesis, for models that learn
in the compressed domain).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from torch.utils.data import DataLoader

from ncodec.data import NcxFolder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--latents", action="store_true")
    a = p.parse_args()
    loader = DataLoader(NcxFolder(a.folder, latents=a.latents), batch_size=None, num_workers=2)
    for i, item in enumerate(loader):
        print(i, tuple(item.shape), item.dtype)


if __name__ == "__main__":
    main()
