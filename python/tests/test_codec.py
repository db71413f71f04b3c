"""The binding: round trips, parity with the command line, errors, threads."""

from __future__ import annotations

import subprocess
import threading
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from conftest import PHOTO, SPEECH, photo
from PIL import Image

import ncodec


def psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float(10 * np.log10(255.0**2 / mse))


def speech_int16() -> tuple[npt.NDArray[np.int16], int]:
    """The committed speech clip as int16 [channels, samples] and its rate."""
    with wave.open(str(SPEECH)) as w:
        assert w.getsampwidth() == 2
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        channels = w.getnchannels()
        return frames.reshape(-1, channels).T.copy(), w.getframerate()


def test_models_lists_every_shipped_model() -> None:
    ids = {m["id"]: m for m in ncodec.models()}
    assert "dwt97s-pf-r2" in ids and "walloc-speech-16k-r1" in ids
    assert ids["dwt97s-pf-r2"]["family"] == "wavelet"


def test_an_image_comes_back_with_its_size_and_quality() -> None:
    img = photo()
    data = ncodec.encode(img)
    assert data[:4] == b"\x89NCX"
    back = ncodec.decode_image(data)
    assert back.dtype == np.uint8
    assert back.shape == img.shape
    # The test photo is a hard one: 26.5 dB at the default level.
    assert psnr(img, back) > 24
    # A higher level is larger and closer, a lower one smaller.
    better = ncodec.encode(img, quality=12)
    assert len(better) > len(data) > len(ncodec.encode(img, quality=2))
    assert psnr(img, ncodec.decode_image(better)) > psnr(img, back) + 3


def test_grey_and_opaque_rgba_keep_their_layout() -> None:
    grey = photo()[:, :, 1].copy()
    assert ncodec.decode_image(ncodec.encode(grey)).shape == grey.shape
    rgba = np.dstack([photo(), np.full(grey.shape, 255, np.uint8)])
    back = ncodec.decode_image(ncodec.encode(rgba))
    assert back.shape == rgba.shape and (back[:, :, 3] == 255).all()
    # Strided views are read in their logical order.
    flipped = photo()[::-1, ::2]
    assert ncodec.decode_image(ncodec.encode(flipped)).shape == flipped.shape


def test_encode_writes_the_cli_bytes(cli: Path, tmp_path: Path) -> None:
    for args in [[], ["-q", "3"], ["--model", "walloc-rgb-16x-r1"]]:
        out = tmp_path / "cli.ncx"
        subprocess.run([cli, "encode", PHOTO, "-o", out, *args], check=True, capture_output=True)
        model = args[1] if args[:1] == ["--model"] else None
        quality = int(args[1]) if args[:1] == ["-q"] else None
        assert ncodec.encode(photo(), model=model, quality=quality) == out.read_bytes(), args
    samples, rate = speech_int16()
    out = tmp_path / "speech.ncx"
    subprocess.run([cli, "encode", SPEECH, "-o", out], check=True, capture_output=True)
    assert ncodec.encode(samples, sample_rate=rate) == out.read_bytes()


def test_decode_gives_the_cli_pixels(cli: Path, tmp_path: Path) -> None:
    data = ncodec.encode(photo(), quality=5)
    (tmp_path / "a.ncx").write_bytes(data)
    subprocess.run(
        [cli, "decode", tmp_path / "a.ncx", "-o", tmp_path / "a.png"],
        check=True,
        capture_output=True,
    )
    assert (np.asarray(Image.open(tmp_path / "a.png")) == ncodec.decode_image(data)).all()
    with pytest.raises(ValueError, match="image"):
        ncodec.decode_audio(data)


def test_audio_comes_back_at_its_rate_and_length() -> None:
    samples, rate = speech_int16()
    floats = samples.astype(np.float32) / 32768
    for clip in [floats, floats[0]]:
        out, out_rate = ncodec.decode_audio(ncodec.encode(clip, sample_rate=rate))
        assert out_rate == rate and out.dtype == np.float32
        assert out.shape == (1, samples.shape[1])
        snr = 10 * np.log10(np.sum(floats**2) / np.sum((floats - out) ** 2))
        assert snr > 3, snr


def test_info_and_latents() -> None:
    data = ncodec.encode(photo(), model="walloc-rgb-16x-r1", quality=3)
    info = ncodec.info(data)
    assert info["header"]["model_id"] == "walloc-rgb-16x-r1"
    assert info["file_bytes"] == len(data)
    assert abs(info["bits_per_pixel"] - len(data) * 8 / (200 * 176)) < 1e-9
    from_array = ncodec.latents(photo(), model="walloc-rgb-16x-r1", quality=3)
    from_file = ncodec.latents(data)
    assert from_array.dtype == np.int32 and from_array.ndim == 3
    assert (from_array == from_file).all()


@pytest.mark.parametrize(
    ("array", "kwargs", "message"),
    [
        (np.zeros((8, 8, 3), np.float32), {}, "uint8"),
        (np.zeros((8, 8, 3), np.uint16), {}, "uint8"),
        (np.zeros((8, 8, 2), np.uint8), {}, "channel"),
        (np.zeros((2, 8, 8, 3), np.uint8), {}, "shape"),
        (np.zeros((8, 8, 4), np.uint8), {}, "transparency"),
        (np.zeros((8, 8, 3), np.uint8), {"model": "no-such-model"}, "no-such-model"),
        (np.zeros((8, 8, 3), np.uint8), {"quality": 99}, "quality"),
        (np.zeros((3, 100), np.float32), {"sample_rate": 16000}, "channels"),
        (np.full(100, np.nan, np.float32), {"sample_rate": 16000}, "finite"),
        (np.zeros(100, np.float32), {"sample_rate": 10**9}, "sample rate"),
        (np.zeros(100, np.float64), {"sample_rate": 16000}, "float32"),
    ],
)
def test_bad_arrays_raise_value_errors(
    array: npt.NDArray[np.generic], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ncodec.encode(array, **kwargs)  # type: ignore[arg-type]


def test_bad_files_raise_value_errors() -> None:
    data = ncodec.encode(photo())
    for bad in [b"", b"not a file", data[: len(data) // 2], data[:-1] + bytes([data[-1] ^ 1])]:
        with pytest.raises(ValueError):
            ncodec.decode(bad)
        with pytest.raises(ValueError):
            ncodec.info(bad)


def test_threads_run_while_a_file_decodes() -> None:
    """Decoding releases the interpreter: another thread counts meanwhile."""
    big = np.tile(photo(), (4, 4, 1))
    data = ncodec.encode(big)
    started, done = threading.Event(), threading.Event()

    def work() -> None:
        started.set()
        ncodec.decode(data)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    count = 0
    while not done.is_set():
        count += 1
    t.join()
    assert count > 10_000, count


def test_threads_give_the_serial_results() -> None:
    imgs = [np.roll(photo(), 7 * i, axis=1) for i in range(4)]
    serial = [ncodec.encode(i) for i in imgs]
    out: list[bytes] = [b""] * 4

    def work(i: int) -> None:
        out[i] = ncodec.encode(imgs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == serial


def _decode_shape(data: bytes) -> tuple[int, ...]:
    return ncodec.decode_image(data).shape


def test_a_forked_process_codes_after_its_parent_did() -> None:
    """A forked worker (PyTorch's DataLoader, multiprocessing) makes its own threads."""
    import multiprocessing

    data = ncodec.encode(photo(), model="walloc-rgb-16x-r1")
    ncodec.decode(data)  # the parent's threads and models exist now
    with multiprocessing.get_context("fork").Pool(2) as pool:
        shapes = pool.map_async(_decode_shape, [data] * 2).get(timeout=120)
    assert shapes == [(176, 200, 3)] * 2
