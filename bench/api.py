"""What an authenticated API request costs, against the raw SQL round trips it needs.

Conveyor: `GET /v1/me` with an API key, through the real handler (API Gateway event in, proxy response out):
routing, auth (cached ≤ 60 s, so warm requests skip the key lookup), validation, the service's queries.
Baseline: the same answers fetched with raw pg8000 on one connection — the key lookup and the user query in
one transaction, no ORM, no framework. Both run against the same embedded Postgres, interleaved, in one run.
Last line: {"bench": "api", "handler_ms_p50", "raw_sql_ms_p50", "ratio"}.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import embedded_postgres

ROUNDS = 2000
WARMUP = 200


def main() -> None:
    with embedded_postgres("conveyor-bench-") as (_pg, url):
        run(url)


def run(url: str) -> None:
    os.environ.update(DATABASE_URL=url, POWERTOOLS_LOG_LEVEL="WARNING", AWS_DEFAULT_REGION="us-east-1")
    # Every request is counted against the key's rate limit (that cost is measured), but never refused.
    os.environ.setdefault("CONVEYOR_RATE_LIMIT_REQUESTS", "1000000")
    from sqlalchemy import make_url

    from functions.api.handler import handler
    from local.events import api_gateway_event
    from local.lambda_context import LambdaContext
    from shared.db.migrate import upgrade
    from shared.identity.admin import ensure_admin
    from shared.identity.keys import hash_token

    upgrade()
    key = ensure_admin("bench@example.com")
    event = api_gateway_event("GET", "/v1/me", headers={"Authorization": f"Bearer {key}"})
    context = LambdaContext("bench-api")

    import pg8000.dbapi

    parsed = make_url(url)
    raw = pg8000.dbapi.connect(user="postgres", database=parsed.database, unix_sock=parsed.query["unix_sock"])
    key_hash = hash_token(key)

    def through_handler() -> None:
        response = handler(event, context)
        assert response["statusCode"] == 200, response

    def raw_sql() -> None:
        cur = raw.cursor()
        cur.execute(
            "SELECT k.id, k.scopes, u.id, u.role FROM api_keys k JOIN users u ON u.id = k.user_id"
            " WHERE k.key_hash = %s AND k.revoked_at IS NULL AND u.disabled_at IS NULL",
            (key_hash,),
        )
        user_id = cur.fetchone()[2]
        cur.execute(
            "SELECT u.*, s.* FROM users u LEFT JOIN user_settings s ON s.user_id = u.id WHERE u.id = %s", (user_id,)
        )
        assert cur.fetchone()
        raw.commit()

    for _ in range(WARMUP):
        through_handler()
        raw_sql()
    handler_ms: list[float] = []
    raw_ms: list[float] = []
    for _ in range(ROUNDS):
        for fn, sink in ((through_handler, handler_ms), (raw_sql, raw_ms)):
            started = time.perf_counter()
            fn()
            sink.append((time.perf_counter() - started) * 1000)
    raw.close()

    h50, r50 = statistics.median(handler_ms), statistics.median(raw_ms)
    h95 = statistics.quantiles(handler_ms, n=20)[-1]
    r95 = statistics.quantiles(raw_ms, n=20)[-1]
    print(f"GET /v1/me through the handler: p50 {h50:.3f} ms, p95 {h95:.3f} ms ({ROUNDS} requests)")
    print(f"raw SQL (key lookup + user, one transaction): p50 {r50:.3f} ms, p95 {r95:.3f} ms")
    print(f"ratio handler / raw SQL: {h50 / r50:.2f} (goal <= 3)")
    print(
        json.dumps(
            {
                "bench": "api",
                "handler_ms_p50": round(h50, 3),
                "raw_sql_ms_p50": round(r50, 3),
                "ratio": round(h50 / r50, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
