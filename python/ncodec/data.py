"""PyTorch datasets over folders of ``.ncx`` files (needs ``torch``, imported here only).

Example::

    from torch.utils.data import DataLoader
    from ncodec.data import NcxFolder

    loader = DataLoader(NcxFolder("coded/"), batch_size=None, num_workers=2)
    for image in loader:          # uint8 tensors, C x H x W
        ...

Each worker process decodes its own files; decoding releases the interpreter, so
threads work too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from . import _native


class NcxFolder(Dataset[Any]):
    """The ``.ncx`` files under a folder (recursively, sorted by path), decoded.

    Images come as ``uint8`` tensors C x H x W (1, 3 or 4 channels), audio as
    ``float32`` tensors ``[channels, samples]``; with ``latents=True``, each item is the
    file's integer latents (``int32``, read without synthesis) instead. ``transform``,
    when given, is applied to each tensor.
    """

    def __init__(
        self,
        root: str | Path,
        latents: bool = False,
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        self.root = Path(root)
        self.files = sorted(p for p in self.root.rglob("*.ncx") if p.is_file())
        self.latents = latents
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Any:
        data = self.files[i].read_bytes()
        if self.latents:
            tensor = torch.from_numpy(np.ascontiguousarray(_native.latents(data)))
        else:
            decoded = _native.decode(data)
            if isinstance(decoded, tuple):
                tensor = torch.from_numpy(np.ascontiguousarray(decoded[0]))
            else:
                image = decoded if decoded.ndim == 3 else decoded[:, :, None]
                tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
        return self.transform(tensor) if self.transform else tensor
