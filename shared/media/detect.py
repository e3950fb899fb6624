"""What a file really is, from its first bytes — never from its name or the type the client declared.

Clients (and attackers) choose file names and `Content-Type`; the magic bytes at the start of the object are what
decoders will act on, so that is what ingestion trusts. `detect` returns a canonical MIME type or None;
`same_family` decides whether a declared type is an acceptable description of the detected one (an `.m4a` declared
`audio/mp4` that is an MP4 container is fine; a PNG declared `video/mp4` is not).
"""

from __future__ import annotations

#: How many leading bytes detection looks at (ingestion keeps this much of the stream in memory).
HEAD_BYTES = 64 * 1024

EXECUTABLE = "application/x-executable"

# ISO BMFF (`ftyp`) major brands that are not plain "video/mp4".
_FTYP_BRANDS: dict[bytes, str] = {
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"M4P ": "audio/mp4",
    b"F4A ": "audio/mp4",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"crx ": "image/x-canon-cr3",
}

_MACHO = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")

# Types that describe the same bytes: a declaration in the same family as the detected type is not a mismatch.
_FAMILIES: dict[str, str] = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/png": "png",
    "image/x-png": "png",
    "image/apng": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/heic": "heif",
    "image/heif": "heif",
    "image/avif": "avif",
    # ISO base media file format: the same container whatever the tracks are.
    "video/mp4": "isobmff",
    "audio/mp4": "isobmff",
    "audio/x-m4a": "isobmff",
    "audio/m4a": "isobmff",
    "video/x-m4v": "isobmff",
    "video/quicktime": "isobmff",
    "video/3gpp": "isobmff",
    "audio/3gpp": "isobmff",
    # Matroska / WebM
    "video/webm": "matroska",
    "audio/webm": "matroska",
    "video/x-matroska": "matroska",
    "audio/x-matroska": "matroska",
    # Ogg
    "audio/ogg": "ogg",
    "video/ogg": "ogg",
    "application/ogg": "ogg",
    "audio/opus": "ogg",
    # MPEG audio
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mpeg3": "mp3",
    "audio/x-mpeg-3": "mp3",
    "audio/aac": "aac",
    "audio/aacp": "aac",
    "audio/x-aac": "aac",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "application/vnd.apple.mpegurl": "hls",
    "application/x-mpegurl": "hls",
    "audio/mpegurl": "hls",
    "audio/x-mpegurl": "hls",
    "application/dash+xml": "dash",
    "application/pdf": "pdf",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    EXECUTABLE: "executable",
    "application/x-msdownload": "executable",
    "application/x-elf": "executable",
    "application/x-mach-binary": "executable",
}

# Declarations that say "I don't know": nothing to compare against.
_UNDECLARED = {"", "application/octet-stream", "binary/octet-stream"}


def normalize(content_type: str | None) -> str:
    """`Image/JPEG; charset=x` → `image/jpeg`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def family(content_type: str | None) -> str:
    ct = normalize(content_type)
    return _FAMILIES.get(ct, ct)


def is_declared(content_type: str | None) -> bool:
    return normalize(content_type) not in _UNDECLARED


def same_family(declared: str | None, detected: str) -> bool:
    """True when the declared type describes the detected bytes (or nothing was declared)."""
    if not is_declared(declared):
        return True
    return family(declared) == family(detected)


def _mpeg_audio_sync(head: bytes) -> str | None:
    """An MPEG audio frame header (MP3/MP2) or an ADTS AAC header at the very start."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    layer = (head[1] >> 1) & 0x03
    if layer == 0:  # ADTS: 12 sync bits, layer always 00
        return "audio/aac" if head[1] & 0xF6 == 0xF0 else None
    version = (head[1] >> 3) & 0x03
    bitrate_index = head[2] >> 4
    rate_index = (head[2] >> 2) & 0x03
    if version == 1 or bitrate_index in (0, 15) or rate_index == 3:  # reserved values: not a real frame
        return None
    return "audio/mpeg"


def _text_start(head: bytes) -> bytes:
    text = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    return text.lstrip(b" \t\r\n")


def detect(head: bytes) -> str | None:  # noqa: PLR0911, PLR0912 - a flat table of signatures reads best
    """The canonical MIME type the leading bytes prove, or None when they prove nothing we know."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.startswith(b"RIFF") and len(head) >= 12:
        form = head[8:12]
        if form == b"WEBP":
            return "image/webp"
        if form == b"WAVE":
            return "audio/wav"
        if form == b"AVI ":
            return "video/x-msvideo"
        return None
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: the DocType says WebM or Matroska
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"OggS"):
        return "video/ogg" if b"\x80theora" in head[:512] else "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x7fELF") or head.startswith(b"MZ") or head[:4] in _MACHO:
        return EXECUTABLE
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "application/zip"
    audio = _mpeg_audio_sync(head)
    if audio:
        return audio
    text = _text_start(head)
    if text.startswith(b"#EXTM3U"):
        return "application/vnd.apple.mpegurl"
    if text.startswith(b"<") and b"<MPD" in text[:4096]:
        return "application/dash+xml"
    return None
