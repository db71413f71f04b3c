"""ncodec: learned image and audio compression with bit-exact decoding.

Arrays in, ``.ncx`` bytes out, and back::

    import numpy as np
    import ncodec

    data = ncodec.encode(image)            # image: uint8 H x W x 3
    back = ncodec.decode(data)             # uint8 H x W x 3
    clip = ncodec.encode(samples, sample_rate=16000)
    samples, rate = ncodec.decode(clip)    # float32 [channels, samples]

The files are those of the ``ncodec`` command line (``ncodec decode file.ncx`` reads
them, and the other way round), coded by the same Rust library. Coding releases the
interpreter, so threads and data-loader workers run in parallel.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._native import __version__, decode, encode, info, latents, models

__all__ = [
    "__version__",
    "decode",
    "decode_audio",
    "decode_image",
    "encode",
    "info",
    "latents",
    "models",
]


def decode_image(data: bytes) -> npt.NDArray[np.uint8]:
    """``decode`` of a file that must hold an image (else ``ValueError``)."""
    out = decode(data)
    if isinstance(out, tuple):
        raise ValueError("the file holds audio, not an image")
    return out


def decode_audio(data: bytes) -> tuple[npt.NDArray[np.float32], int]:
    """``decode`` of a file that must hold audio (else ``ValueError``)."""
    out = decode(data)
    if not isinstance(out, tuple):
        raise ValueError("the file holds an image, not audio")
    return out
