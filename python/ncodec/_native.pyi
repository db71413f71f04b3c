"""Type stubs of the native module (``python/src/lib.rs``)."""

from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

def encode(
    array: npt.NDArray[Any],
    model: str | None = None,
    quality: int | None = None,
    sample_rate: int | None = None,
) -> bytes:
    """Encode an image or audio array into the bytes of an ``.ncx`` file.

    Images are ``uint8`` arrays of H x W (grey) or H x W x C with C = 1, 3 or 4 (4 must
    be opaque). Audio is ``float32`` ``[samples]`` or ``[channels, samples]`` in [-1, 1],
    with its ``sample_rate`` in Hz. ``model`` is a shipped model id (see ``models()``),
    by default the medium's default model; ``quality`` one of its levels, by default its
    default level.

    Raises:
        ValueError: for arrays ncodec cannot code, unknown models or levels.
    """

def decode(
    data: bytes,
) -> npt.NDArray[np.uint8] | tuple[npt.NDArray[np.float32], int]:
    """Decode the bytes of an ``.ncx`` file.

    Returns an image as a ``uint8`` array (H x W for grey, H x W x 3, or H x W x 4 for
    files of RGBA images), or audio as ``(samples, sample_rate)`` with ``float32``
    samples ``[channels, samples]``.

    Raises:
        ValueError: for damaged files and files of unknown models.
    """

def info(data: bytes) -> dict[str, Any]:
    """The header, sections and rate of an ``.ncx`` file (``ncodec info --json``)."""

def models() -> list[dict[str, Any]]:
    """The shipped models (``ncodec models --json``): id, family, medium, levels."""

def latents(
    source: bytes | npt.NDArray[Any],
    model: str | None = None,
    quality: int | None = None,
    sample_rate: int | None = None,
) -> npt.NDArray[np.int32]:
    """The integer latents of an array or of the bytes of an ``.ncx`` file.

    An array is taken as ``encode`` takes it; a file's latents are read from its payload
    without synthesis. The result is ``[channels, height, width]`` for images.

    Raises:
        ValueError: for models without latents and for bad input.
    """
