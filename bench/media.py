"""Media ingestion of a large object: throughput against a plain streaming read + sha256, and the ingester's memory.

Setup (this process): an embedded Postgres (migrated, one user, one media row `uploading`, declared video/mp4) and a
moto ThreadedMotoServer holding one object of BENCH_MEDIA_MB MiB (default 1024), written by multipart upload so this
process never holds it whole (moto does: that is the emulator's memory, not the ingester's). The object is a real,
small H.264 MP4 (index at the front) followed by a top-level `free` box filling the rest — a valid MP4, so ingestion
takes its full path: stream in chunks, sha256, spool to a temp file, detect, probe with PyAV, mark ready.

Each measurement runs in a fresh child process (`python bench/media.py --child raw|ingest`) that reports its own
wall time and peak RSS (`VmHWM` from /proc/self/status, see `rss_mb`), plus the RSS it had after its imports,
before any byte was read. Rounds alternate raw, ingest, ... (BENCH_MEDIA_ROUNDS, default 2); medians are reported.
A last ingest child runs under tracemalloc for the peak of Python-level allocations.
Baseline (raw): `get_object` + `Body.read(CHUNK_BYTES)` + `hashlib.sha256().update` — nothing else, same chunk size.
Last line: {"bench": "media", "ingest_mb_per_s", "raw_mb_per_s", "ratio", "peak_rss_mb"}.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE_MB = int(os.environ.get("BENCH_MEDIA_MB", "1024"))
ROUNDS = int(os.environ.get("BENCH_MEDIA_ROUNDS", "2"))
BUCKET = "conveyor-bench-media"
PART = 16 * 1024 * 1024


def rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not getrusage: on Linux ru_maxrss survives exec, so a child forked from this
    parent (which holds moto's copy of the object) would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- children -----------------------------------------------------------------------------------------------------


def child_raw(key: str) -> dict[str, Any]:
    import hashlib

    from shared import aws
    from shared.media.ingest import CHUNK_BYTES

    s3 = aws.client("s3")
    base = rss_mb()
    started = time.perf_counter()
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
    digest = hashlib.sha256()
    size = 0
    while chunk := body.read(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "bytes": size,
        "base_rss_mb": base,
        "peak_rss_mb": rss_mb(),
        "sha256": digest.hexdigest(),
    }


def child_ingest(key: str, body: str, trace: bool) -> dict[str, Any]:
    import av  # noqa: F401 - imported before measuring, as a warm Lambda environment would have it
    import PIL.Image  # noqa: F401

    from shared.db.engine import get_engine
    from shared.media import ingest

    get_engine().connect().close()
    ingest.aws.client("s3")
    base = rss_mb()
    if trace:
        import tracemalloc

        tracemalloc.start()
    profiler = None
    if os.environ.get("BENCH_MEDIA_PROFILE"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    outcomes = ingest.handle_notification(body)
    elapsed = time.perf_counter() - started
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    result: dict[str, Any] = {"seconds": elapsed, "base_rss_mb": base, "peak_rss_mb": rss_mb(), "outcomes": outcomes}
    if trace:
        import tracemalloc

        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1024**2
    return result


# --- setup --------------------------------------------------------------------------------------------------------


def small_mp4() -> bytes:
    """One second of 320x240 H.264 with the index (moov) at the front, so a trailing box changes nothing."""
    from fractions import Fraction

    import av
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "head.mp4"
        with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as out:
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
            for i in range(25):
                frame = av.VideoFrame.from_image(Image.new("RGB", (320, 240), (i * 10, 90, 200)))
                frame.pts, frame.time_base = i, Fraction(1, 25)
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        return path.read_bytes()


def upload_object(s3: Any, key: str, total: int) -> str:
    """Multipart upload: the MP4, then a `free` box (64-bit size) covering the rest, filled with pseudo-random bytes."""
    head = small_mp4()
    free_size = total - len(head)
    prefix = head + struct.pack(">I4sQ", 1, b"free", free_size)
    block = os.urandom(PART)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ContentType="video/mp4")
    parts = []
    written = 0
    number = 1
    while written < total:
        size = min(PART, total - written)
        data = prefix + block[: size - len(prefix)] if number == 1 else block[:size]
        etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=data)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
        written += size
        number += 1
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts})
    return s3.head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"')


def run_child(mode: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if os.environ.get("BENCH_MEDIA_PROFILE"):
        print(out.stderr[-6000:], file=sys.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from local.postgres import EmbeddedPostgres

    state = Path(tempfile.mkdtemp(prefix="conveyor-bench-media-"))
    pg = EmbeddedPostgres(state)
    url = pg.start()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        run(url, f"http://{host}:{port}")
    finally:
        server.stop()
        pg.stop()


def run(url: str, endpoint: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "CONVEYOR_MEDIA_BUCKET": BUCKET,
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CONVEYOR_JOBS_QUEUE_URL", None)
    os.environ.update(env)
    from sqlalchemy import text

    from local.events import s3_object_created_body
    from shared import aws
    from shared.db import session
    from shared.db.migrate import upgrade
    from shared.db.models import MediaFile, User

    upgrade()
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    total = SIZE_MB * 1024 * 1024
    user_id, media_id = uuid.uuid4(), uuid.uuid4()
    key = f"media/{user_id}/{media_id}/big video.mp4"
    started = time.perf_counter()
    etag = upload_object(s3, key, total)
    print(f"object: {SIZE_MB} MiB uploaded to moto in {time.perf_counter() - started:.1f}s (etag {etag})")
    with session() as s:
        s.add(User(id=user_id, email="bench@example.com", name="bench", role="member"))
        s.flush()
        s.add(
            MediaFile(
                id=media_id,
                user_id=user_id,
                bucket=BUCKET,
                key=key,
                region="us-east-1",
                declared_content_type="video/mp4",
                declared_size=total,
                status="uploading",
            )
        )

    def reset() -> None:
        with session() as s:
            s.execute(
                text("UPDATE media_files SET status = 'uploading', last_event_key = NULL WHERE id = :id"),
                {"id": media_id},
            )

    raw_rates, ingest_rates, raw_peaks, ingest_peaks, ingest_bases = [], [], [], [], []
    mib = total / 1024**2
    for round_no in range(ROUNDS):
        raw = run_child("raw", env, key)
        assert raw["bytes"] == total
        reset()
        body = s3_object_created_body(BUCKET, key.replace(" ", "+"), size=total, etag=etag, sequencer=None)
        ing = run_child("ingest", env, key, body)
        assert ing["outcomes"] == ["ready"], ing
        raw_rates.append(mib / raw["seconds"])
        ingest_rates.append(mib / ing["seconds"])
        raw_peaks.append(raw["peak_rss_mb"])
        ingest_peaks.append(ing["peak_rss_mb"])
        ingest_bases.append(ing["base_rss_mb"])
        print(
            f"round {round_no + 1}: raw {mib / raw['seconds']:.0f} MiB/s (peak RSS {raw['peak_rss_mb']:.0f} MB), "
            f"ingest {mib / ing['seconds']:.0f} MiB/s (peak RSS {ing['peak_rss_mb']:.0f} MB, "
            f"{ing['base_rss_mb']:.0f} MB after imports)"
        )
    with session() as s:
        row = s.get_one(MediaFile, media_id)
        assert row.checksum_sha256 == raw["sha256"], "ingest and baseline must hash the same bytes"
        print(f"row: {row.status} {row.content_type} {row.video_codec} {row.width}x{row.height} {row.size_bytes} bytes")
    reset()
    traced = run_child("ingest-traced", env, key, body)
    print(f"tracemalloc peak of Python allocations during ingest: {traced['tracemalloc_peak_mb']:.1f} MB")

    ingest_rate, raw_rate = statistics.median(ingest_rates), statistics.median(raw_rates)
    summary = {
        "bench": "media",
        "ingest_mb_per_s": round(ingest_rate, 1),
        "raw_mb_per_s": round(raw_rate, 1),
        "ratio": round(ingest_rate / raw_rate, 3),
        "peak_rss_mb": round(max(ingest_peaks), 1),
        "object_mb": SIZE_MB,
        "ingest_base_rss_mb": round(max(ingest_bases), 1),
        "raw_peak_rss_mb": round(max(raw_peaks), 1),
        "tracemalloc_peak_mb": round(traced["tracemalloc_peak_mb"], 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        mode, key = sys.argv[2], sys.argv[3]
        result = child_raw(key) if mode == "raw" else child_ingest(key, sys.argv[4], trace=mode == "ingest-traced")
        print(json.dumps(result, default=str))
    else:
        main()
