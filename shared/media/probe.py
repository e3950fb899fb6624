"""What is inside a media file: Pillow for images, PyAV (FFmpeg) for audio and video, text parsing for manifests.

Every probe either returns a `Probe` (typed columns + a JSON-able `meta` for the rest) or raises `ProbeRejected`
with a machine-readable reason; decoders are untrusted-input parsers, so anything they raise on a file is a
verdict about the file (`unreadable`), not an infrastructure error.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import IO, Any

from shared.db.enums import AudioCodec, MediaKind, Orientation, StreamingFormat, VideoCodec

#: Frames decoded per stream to prove the codec data is sane (demuxing alone already walks every packet).
DECODE_FRAMES = 3
#: Demuxed data must cover this share of the announced duration, or the file is truncated.
TRUNCATION_TOLERANCE = 0.9
#: Sampled probing (large objects): packets read at the start, and how close to the end the second read seeks.
SAMPLE_PACKETS = 50
SAMPLE_TAIL_US = 5_000_000


class ProbeRejected(Exception):
    """The file is not acceptable media; `reason` is a QuarantineReason value."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class Probe:
    kind: MediaKind
    container: str | None = None
    width: int | None = None
    height: int | None = None
    orientation: Orientation | None = None
    is_animated: bool | None = None
    duration_ms: int | None = None
    frame_rate: Decimal | None = None
    bitrate: int | None = None
    video_codec: VideoCodec | None = None
    audio_codec: AudioCodec | None = None
    streaming_format: StreamingFormat | None = None
    stream_count: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def orientation_of(width: int | None, height: int | None) -> Orientation | None:
    if not width or not height:
        return None
    if width == height:
        return Orientation.SQUARE
    return Orientation.LANDSCAPE if width > height else Orientation.PORTRAIT


# --- images -------------------------------------------------------------------------------------------------------

# EXIF orientations 5-8 rotate by 90°: what a viewer displays has width and height swapped.
_EXIF_ORIENTATION = 0x0112
_ROTATED = {5, 6, 7, 8}
_INFO_KEYS = ("loop", "duration", "dpi", "interlace", "icc_profile")


def probe_image(source: str | IO[bytes], *, max_pixels: int) -> Probe:
    """Open twice, as Pillow requires: `verify()` checks structure (and leaves the image unusable), then a fresh
    open decodes the pixels (`load()`), which is what catches truncated data. The decompression-bomb guard is
    Pillow's own: with `MAX_IMAGE_PIXELS` set, opening an image whose header announces more pixels raises."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            # Between 1x and 2x the limit Pillow only warns: for us that is already a bomb.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(_rewound(source)) as im:
                im.verify()
            with Image.open(_rewound(source)) as im:
                fmt = im.format
                mode = im.mode
                width, height = im.size
                frames = int(getattr(im, "n_frames", 1) or 1)
                animated = bool(getattr(im, "is_animated", False))
                exif_orientation = im.getexif().get(_EXIF_ORIENTATION)
                info = {k: v for k, v in im.info.items() if k in _INFO_KEYS}
                im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ProbeRejected("decompression_bomb", str(exc)) from exc
    except Exception as exc:  # any decoder failure on a file is a verdict on the file
        raise ProbeRejected("unreadable", f"{type(exc).__name__}: {exc}") from exc

    if exif_orientation in _ROTATED:
        width, height = height, width
    meta: dict[str, Any] = {"format": fmt, "mode": mode, "frames": frames}
    if exif_orientation:
        meta["exif_orientation"] = int(exif_orientation)
    if "icc_profile" in info:
        meta["icc_profile"] = True
    for key in ("loop", "duration", "interlace"):
        if key in info and isinstance(info[key], int | float):
            meta[key] = info[key]
    if "dpi" in info:
        meta["dpi"] = [float(x) for x in info["dpi"]]
    return Probe(
        kind=MediaKind.IMAGE,
        container=(fmt or "").lower() or None,
        width=width,
        height=height,
        orientation=orientation_of(width, height),
        is_animated=animated,
        stream_count=1,
        meta=meta,
    )


# --- audio and video ------------------------------------------------------------------------------------------------

_VIDEO_CODECS: dict[str, VideoCodec] = {
    "h264": VideoCodec.H264,
    "libx264": VideoCodec.H264,
    "hevc": VideoCodec.H265,
    "h265": VideoCodec.H265,
    "libx265": VideoCodec.H265,
    "vp8": VideoCodec.VP8,
    "libvpx": VideoCodec.VP8,
    "vp9": VideoCodec.VP9,
    "libvpx-vp9": VideoCodec.VP9,
    "av1": VideoCodec.AV1,
    "libdav1d": VideoCodec.AV1,
    "libaom-av1": VideoCodec.AV1,
    "mpeg4": VideoCodec.MPEG4,
    "h263": VideoCodec.H263,
    "h263p": VideoCodec.H263,
    "theora": VideoCodec.THEORA,
    "prores": VideoCodec.PRORES,
    "dnxhd": VideoCodec.DNXHD,
}

_AUDIO_CODECS: dict[str, AudioCodec] = {
    "aac": AudioCodec.AAC,
    "aac_latm": AudioCodec.AAC,
    "mp3": AudioCodec.MP3,
    "mp3float": AudioCodec.MP3,
    "libmp3lame": AudioCodec.MP3,
    "opus": AudioCodec.OPUS,
    "libopus": AudioCodec.OPUS,
    "vorbis": AudioCodec.VORBIS,
    "libvorbis": AudioCodec.VORBIS,
    "ac3": AudioCodec.AC3,
    "eac3": AudioCodec.EAC3,
    "dts": AudioCodec.DTS,
    "dca": AudioCodec.DTS,
    "flac": AudioCodec.FLAC,
    "mp2": AudioCodec.MP2,
    "mp2float": AudioCodec.MP2,
}


def video_codec(name: str | None) -> VideoCodec:
    return _VIDEO_CODECS.get((name or "").lower(), VideoCodec.UNKNOWN)


def audio_codec(name: str | None) -> AudioCodec:
    n = (name or "").lower()
    if n.startswith("pcm_"):
        return AudioCodec.PCM
    return _AUDIO_CODECS.get(n, AudioCodec.UNKNOWN)


def _codec_name(stream: Any) -> str | None:
    """The codec id name (`h264`), not the decoder's (`libdav1d`): the descriptor is what the file declares."""
    ctx = stream.codec_context
    return getattr(ctx.codec, "name", None) or getattr(ctx, "name", None)


def _fraction(value: Fraction | None) -> Decimal | None:
    if not value:
        return None
    return Decimal(value.numerator) / Decimal(value.denominator)


def _rewound(source: str | IO[bytes]) -> str | IO[bytes]:
    if not isinstance(source, str):
        source.seek(0)
    return source


def probe_av(source: str | IO[bytes], *, expect_video: bool, full_scan: bool = True) -> Probe:
    """Open with FFmpeg, then demux every packet (cheap: no decoding) and decode the first few frames per stream.

    Demuxing to the end is what proves the file is whole: a truncated MP4 whose index (`moov`) sits at the end fails
    to open, and one whose index is at the front stops short of the duration it announces. Without `full_scan`
    (large objects read through ranged GETs) only the start and the last few seconds are demuxed: a truncated file
    still stops short of its announced end.
    """
    import av

    try:
        with av.open(_rewound(source), metadata_errors="ignore") as container:
            streams = list(container.streams)
            if not any(s.type in ("video", "audio") for s in streams):
                raise ProbeRejected("unreadable", "no audio or video stream")
            decoded: dict[int, int] = {}
            packets = 0
            data_end = 0.0  # seconds: where the demuxed data really ends
            for packet in _sampled_packets(container, full_scan=full_scan):
                packets += 1
                index = packet.stream.index
                if packet.pts is not None and packet.time_base:
                    data_end = max(data_end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                if decoded.get(index, 0) < DECODE_FRAMES and packet.stream.type in ("video", "audio"):
                    decoded[index] = decoded.get(index, 0) + len(packet.decode())
            if packets == 0:
                raise ProbeRejected("unreadable", "no packets")
            # FFmpeg stops quietly ("partial file") when an index points past the end: compare with what it announced.
            announced = container.duration / 1_000_000 if container.duration else 0.0
            if announced > 0 and data_end < announced * TRUNCATION_TOLERANCE:
                raise ProbeRejected("unreadable", f"truncated: data ends at {data_end:.2f}s of {announced:.2f}s")
            result = _describe(container, streams, expect_video=expect_video)
            result.meta["packets"] = packets
            return result
    except ProbeRejected:
        raise
    except Exception as exc:  # any decoder failure on a file is a verdict on the file
        raise ProbeRejected("unreadable", f"{type(exc).__name__}: {exc}") from exc


def _sampled_packets(container: Any, *, full_scan: bool) -> Iterator[Any]:
    """Every packet, or (sampled) the first SAMPLE_PACKETS and then those from a seek near the announced end."""
    count = 0
    for packet in container.demux():
        if packet.size == 0 and packet.dts is None:
            continue  # the flush packet at the end
        yield packet
        count += 1
        if not full_scan and count >= SAMPLE_PACKETS and container.duration:
            break
    else:
        return
    container.seek(max(0, container.duration - SAMPLE_TAIL_US), any_frame=False, backward=True)
    for packet in container.demux():
        if packet.size == 0 and packet.dts is None:
            continue
        yield packet


def _describe(container: Any, streams: list[Any], *, expect_video: bool) -> Probe:
    # Cover art in an MP3/M4A is a one-picture "video" stream: it does not make the file a video.
    videos = [s for s in streams if s.type == "video" and not _is_attached_picture(s)]
    audios = [s for s in streams if s.type == "audio"]
    video = videos[0] if videos else None
    audio = audios[0] if audios else None
    duration_ms = int(container.duration // 1000) if container.duration else None
    meta: dict[str, Any] = {
        "format_long_name": container.format.long_name,
        "streams": [
            {
                "index": s.index,
                "type": s.type,
                "codec": _codec_name(s),
                **({"language": s.language} if getattr(s, "language", None) else {}),
            }
            for s in streams
        ],
    }
    width = height = None
    frame_rate = None
    vcodec = acodec = None
    if video is not None:
        vcodec = video_codec(_codec_name(video))
        width, height = video.codec_context.width or None, video.codec_context.height or None
        frame_rate = _fraction(video.average_rate or video.guessed_rate)
        if video.codec_context.pix_fmt:
            meta["pix_fmt"] = video.codec_context.pix_fmt
        if video.codec_context.profile:
            meta["video_profile"] = video.codec_context.profile
    if audio is not None:
        acodec = audio_codec(_codec_name(audio))
        meta["sample_rate"] = audio.codec_context.sample_rate
        meta["channels"] = audio.codec_context.channels
    if frame_rate is not None:
        frame_rate = frame_rate.quantize(Decimal("0.001"))
    kind = MediaKind.VIDEO if video is not None and expect_video else MediaKind.AUDIO
    if video is not None and not expect_video:
        meta["has_video"] = True
    return Probe(
        kind=kind,
        container=container.format.name,
        width=width,
        height=height,
        orientation=orientation_of(width, height),
        duration_ms=duration_ms,
        frame_rate=frame_rate,
        bitrate=int(container.bit_rate) if container.bit_rate else None,
        video_codec=vcodec,
        audio_codec=acodec,
        stream_count=len(streams),
        meta=meta,
    )


def _is_attached_picture(stream: Any) -> bool:
    disposition = getattr(stream, "disposition", None)
    try:
        import av

        return bool(disposition and disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):
        return False


# --- streaming manifests --------------------------------------------------------------------------------------------

_EXTINF = re.compile(rb"^#EXTINF:([0-9.]+)", re.MULTILINE)


def probe_manifest(text: bytes, content_type: str) -> Probe:
    """HLS playlists and DASH MPDs are small text files: read from memory, recognised, and summarised."""
    if content_type == "application/vnd.apple.mpegurl":
        variants = text.count(b"#EXT-X-STREAM-INF")
        durations = [float(x) for x in _EXTINF.findall(text)]
        meta: dict[str, Any] = {"variants": variants, "segments": len(durations), "master": variants > 0}
        duration_ms = int(sum(durations) * 1000) if durations and b"#EXT-X-ENDLIST" in text else None
        if b"#EXT-X-ENDLIST" not in text and durations:
            meta["live"] = True
        return Probe(
            kind=MediaKind.STREAMING,
            container="m3u8",
            streaming_format=StreamingFormat.HLS,
            duration_ms=duration_ms,
            meta=meta,
        )
    if content_type == "application/dash+xml":
        meta = {
            "periods": text.count(b"<Period"),
            "adaptation_sets": text.count(b"<AdaptationSet"),
            "representations": text.count(b"<Representation"),
        }
        match = re.search(rb'mediaPresentationDuration="([^"]+)"', text)
        duration_ms = _iso_duration_ms(match.group(1).decode("ascii", "replace")) if match else None
        if b'type="dynamic"' in text:
            meta["live"] = True
        return Probe(
            kind=MediaKind.STREAMING,
            container="mpd",
            streaming_format=StreamingFormat.DASH,
            duration_ms=duration_ms,
            meta=meta,
        )
    raise ProbeRejected("unreadable", f"not a manifest type: {content_type}")


_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?$")


def _iso_duration_ms(value: str) -> int | None:
    m = _ISO.match(value.strip())
    if not m:
        return None
    days, hours, minutes, seconds = m.groups()
    total = int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
    return int(total * 1000)
