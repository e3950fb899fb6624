"""Test media made by the tests themselves (Pillow, PyAV): nothing binary is downloaded or committed."""

from __future__ import annotations

import array
import io
import math
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image


def png(size: tuple[int, int] = (640, 480), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, "teal" if mode == "RGB" else 1).save(buf, "PNG")
    return buf.getvalue()


def jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "orange").save(buf, "JPEG", quality=80)
    return buf.getvalue()


def gif() -> bytes:
    frames = [Image.new("RGB", (32, 24), c) for c in ("red", "green", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def mp4(seconds: float = 1.0, *, faststart: bool = False) -> bytes:
    """H.264 320x240 @ 25 fps + AAC 44.1 kHz stereo; `faststart` moves the index (moov) to the front (needs a file)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.mp4"
        _write_mp4(str(path), seconds, {"movflags": "faststart"} if faststart else {})
        return path.read_bytes()


def _write_mp4(path: str, seconds: float, options: dict[str, str]) -> None:
    with av.open(path, "w", format="mp4", options=options) as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = out.add_stream("aac", rate=44100)
        audio.layout = "stereo"
        for i in range(int(25 * seconds)):
            frame = av.VideoFrame.from_image(Image.new("RGB", (320, 240), ((i * 9) % 255, 80, 160)))
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        _encode_tone(out, audio, seconds)


def mp3(seconds: float = 1.0) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        audio = out.add_stream("libmp3lame", rate=44100)
        audio.layout = "stereo"
        _encode_tone(out, audio, seconds)
    return buf.getvalue()


def _encode_tone(out: Any, audio: Any, seconds: float) -> None:
    """A 440 Hz tone as s16 stereo frames; PyAV resamples to what the encoder wants (fltp, its frame size)."""
    samples = int(44100 * seconds)
    step = 1024
    for start in range(0, samples, step):
        n = min(step, samples - start)
        pcm = array.array("h")
        for i in range(start, start + n):
            v = int(6000 * math.sin(2 * math.pi * 440 * i / 44100))
            pcm.extend((v, v))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=n)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = 44100
        frame.pts = start
        frame.time_base = Fraction(1, 44100)
        out.mux(audio.encode(frame))
    out.mux(audio.encode(None))


ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(200)
