"""The truncation tally (`clusterank.embed.truncation`): one warning per block, nested blocks adding up tokens, and
each thread's blocks counting only that thread's embeds (the server embeds requests in threads)."""

from __future__ import annotations

import contextvars
import logging
import threading

from clusterank.embed.base import truncation_summary as from_base
from clusterank.embed.truncation import truncation_summary, warn_truncated


def test_outside_a_block_each_call_warns(caplog):
    with caplog.at_level(logging.WARNING, "clusterank.embed"):
        assert warn_truncated("m", [3, 9, 12], 8) == 2
        assert warn_truncated("m", [3], 8) == 0
    assert [r.getMessage() for r in caplog.records] == [
        "m: 2 of 3 texts are longer than its 8-token limit and were truncated (longest: 12 tokens)"]


def test_a_block_gathers_one_warning_and_counts_tokens(caplog):
    with caplog.at_level(logging.WARNING, "clusterank.embed"):
        with truncation_summary("profiles") as tally:
            warn_truncated("m", [3, 9], 8)
            warn_truncated("m", [20, 1], 8)
    assert tally == {"over": 2, "total": 4, "longest": 20, "limit": 8, "model": "m", "tokens": 3 + 8 + 8 + 1}
    assert [r.getMessage() for r in caplog.records] == [
        "m: 2 of 4 profiles are longer than its 8-token limit and were truncated (longest: 20 tokens)"]
    with caplog.at_level(logging.WARNING, "clusterank.embed"), truncation_summary(quiet=True):
        warn_truncated("m", [30], 8)
    assert len(caplog.records) == 1  # quiet: no second warning


def test_nested_blocks_add_their_tokens_up():
    with truncation_summary(quiet=True) as outer:
        warn_truncated("m", [2], 8)
        with truncation_summary(quiet=True) as inner:
            warn_truncated("m", [5, 10], 8)
        with truncation_summary(quiet=True) as second:
            warn_truncated("m", [1], 8)
    assert inner["tokens"] == 13 and second["tokens"] == 1
    assert outer["tokens"] == 2 + 13 + 1 and outer["total"] == 1  # texts and warnings stay with the inner block
    assert from_base is truncation_summary  # still importable from embed.base


def test_two_threads_each_count_only_their_own_embeds():
    """Both blocks are open at once and embeds interleave; with one process-global list each thread's embeds
    went into whichever block was opened last."""
    both_open, results, errors = threading.Barrier(2), {}, []

    def job(name: str, count: int) -> None:
        try:
            with truncation_summary(quiet=True) as tally:
                both_open.wait(5)
                for _ in range(50):
                    warn_truncated(name, [count], 8)
                both_open.wait(5)
            results[name] = tally
        except Exception as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=job, args=("a", 5)), threading.Thread(target=job, args=("b", 20))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert results["a"] == {"over": 0, "total": 50, "longest": 5, "limit": 8, "model": "a", "tokens": 250}
    assert results["b"] == {"over": 50, "total": 50, "longest": 20, "limit": 8, "model": "b", "tokens": 400}


def test_a_block_in_the_main_thread_does_not_see_another_threads_embeds(caplog):
    with caplog.at_level(logging.WARNING, "clusterank.embed"), truncation_summary(quiet=True) as mine:
        worker = threading.Thread(target=warn_truncated, args=("w", [30], 8))
        worker.start()
        worker.join()
    assert mine["total"] == 0 and "w: 1 of 1 texts" in caplog.text  # the thread warned on its own


def test_work_run_in_a_copy_of_the_context_counts_into_the_block():
    with truncation_summary(quiet=True) as mine:
        context = contextvars.copy_context()
        worker = threading.Thread(target=context.run, args=(warn_truncated, "w", [30], 8))
        worker.start()
        worker.join()
    assert mine["total"] == 1 and mine["tokens"] == 8


def test_a_block_left_out_of_order_is_still_removed():
    outer = truncation_summary(quiet=True)
    inner = truncation_summary(quiet=True)
    first, second = outer.__enter__(), inner.__enter__()
    outer.__exit__(None, None, None)  # the outer block ends first
    warn_truncated("m", [4], 8)
    assert second["total"] == 1 and first["total"] == 0
    inner.__exit__(None, None, None)
    with truncation_summary(quiet=True) as fresh:
        warn_truncated("m", [4], 8)
    assert fresh["total"] == 1 and second["total"] == 1
