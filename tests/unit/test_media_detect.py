"""Type detection trusts the leading bytes, and a declaration only has to name the same container family."""

from __future__ import annotations

import pytest

from shared.media.detect import EXECUTABLE, detect, same_family


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(20), "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a" + bytes(10), "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video/quicktime"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "audio/mp4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"OggS\x00\x02" + bytes(30), "audio/ogg"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + bytes(8), "audio/mpeg"),
        (b"\xff\xf1\x50\x80\x02\x1f\xfc", "audio/aac"),
        (b"\xef\xbb\xbf#EXTM3U\n#EXT-X-VERSION:3\n", "application/vnd.apple.mpegurl"),
        (b'<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">', "application/dash+xml"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x7fELF\x02\x01\x01", EXECUTABLE),
        (b"MZ\x90\x00\x03", EXECUTABLE),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", EXECUTABLE),
        (b"PK\x03\x04\x14\x00", "application/zip"),
        (b"hello, world", None),
        (b"", None),
    ],
)
def test_detects_from_magic_bytes(head: bytes, expected: str | None) -> None:
    assert detect(head) == expected


@pytest.mark.parametrize(
    ("declared", "detected", "ok"),
    [
        ("image/jpeg", "image/jpeg", True),
        ("image/jpg", "image/jpeg", True),
        ("IMAGE/PNG; charset=binary", "image/png", True),
        ("audio/mp4", "video/mp4", True),  # same ISO BMFF container: an .m4a is an MP4
        ("video/quicktime", "video/mp4", True),
        ("audio/webm", "video/webm", True),
        ("application/octet-stream", "image/png", True),  # nothing declared: nothing to contradict
        (None, "image/png", True),
        ("video/mp4", "image/png", False),
        ("image/jpeg", EXECUTABLE, False),
        ("audio/mpeg", "audio/mp4", False),
    ],
)
def test_declared_type_must_be_in_the_detected_family(declared: str | None, detected: str, ok: bool) -> None:
    assert same_family(declared, detected) is ok
