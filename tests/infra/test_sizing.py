"""Sizing rules that need no synth: every stage's SQS consumers get a maximum concurrency Lambda accepts and that
never exceeds their reserved concurrency."""

from __future__ import annotations

import pytest

pytest.importorskip("aws_cdk")

from infra.config import STAGES, StageConfig
from infra.queues import MAX_CONCURRENCY_BOUNDS, UNRESERVED_MAX_CONCURRENCY, sqs_max_concurrency

SQS_CONSUMERS = ("worker", "media")


@pytest.mark.parametrize("stage", sorted(STAGES))
@pytest.mark.parametrize("name", SQS_CONSUMERS)
def test_every_stage_caps_its_sqs_consumers_at_their_reserved_concurrency(stage: str, name: str) -> None:
    config: StageConfig = STAGES[stage]
    reserved = getattr(config, name).reserved_concurrency

    cap = sqs_max_concurrency(reserved)

    low, high = MAX_CONCURRENCY_BOUNDS
    assert low <= cap <= high
    if reserved is not None:
        assert cap <= reserved


def test_a_consumer_without_reservation_gets_a_modest_cap_and_a_huge_reservation_lambda_s_maximum() -> None:
    assert sqs_max_concurrency(None) == UNRESERVED_MAX_CONCURRENCY
    assert sqs_max_concurrency(5000) == 1000
    assert sqs_max_concurrency(2) == 2


def test_a_reservation_below_lambda_s_minimum_is_refused_at_synth() -> None:
    with pytest.raises(ValueError, match="reserved concurrency >= 2"):
        sqs_max_concurrency(1)
