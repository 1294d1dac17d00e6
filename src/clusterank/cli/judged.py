"""The options of `clusterank compare --judge`: LLM-judged relevance instead of labels (see `evaluate/judged.py`)."""

from __future__ import annotations

from typing import Callable, Optional

import typer

from clusterank import ClusterankError

JudgeOpt = typer.Option(None, "--judge", help="Score on LLM-judged relevance instead of labels: local (the bundled "
                        "offline model) or llm:<model>@<base_url> (any OpenAI-compatible chat API; key from "
                        "OPENAI_API_KEY). Grades 0-3 are cached, so a rerun resumes.")
PoolDepthOpt = typer.Option(10, "--pool-depth", help="With --judge: how deep each model x pipeline's list is pooled "
                            "and graded (1 to 50).")
MaxJudgmentsOpt = typer.Option(None, "--max-judgments", help="With --judge: at most this many judge calls (cached "
                               "grades are free); queries that do not fit are left out, and named.")
JudgeChecksOpt = typer.Option(0, "--judge-checks", help="With --judge: regrade this many pooled pairs with the profile "
                              "padded and with the profile first, to measure length and position bias.")

RagasOpt = typer.Option(False, "--ragas/--no-ragas", help="With --judge: a second opinion, ragas' reference-free "
                        "context precision on the top --ragas-depth of every list through the same judge, beside "
                        "the judged nDCG@10 (one extra judge call per distinct advert-profile pair; the ragas extra).")
RagasDepthOpt = typer.Option(3, "--ragas-depth", help="With --ragas: how many top profiles of each list get a "
                             "ragas verdict (1 to 10).")


def judged_runner(judge: str, pool_depth: int, max_judgments: Optional[int], judge_checks: int, ragas: bool = False,
                  ragas_depth: int = 3) -> Callable:
    """`compare_models`' signature, scoring on the judge's grades; the judge spec and numbers are checked now,
    before anything is embedded."""
    from clusterank import judged_compare, parse_judge

    spec = parse_judge(judge)
    if not 1 <= pool_depth <= 50:
        raise ClusterankError(f"--pool-depth {pool_depth}: give a whole number from 1 to 50")
    if max_judgments is not None and max_judgments < 1:
        raise ClusterankError(f"--max-judgments {max_judgments}: give a positive number (omit it for no limit)")
    if judge_checks < 0:
        raise ClusterankError(f"--judge-checks {judge_checks}: give 0 (off) or a number of pairs")
    if ragas and not 1 <= ragas_depth <= 10:
        raise ClusterankError(f"--ragas-depth {ragas_depth}: give a whole number from 1 to 10")

    def run(models, corpus, queries, **kw):
        result = judged_compare(models, corpus, queries, spec, pool_depth=pool_depth, max_judgments=max_judgments,
                                judge_checks=judge_checks, ragas=ragas, ragas_depth=ragas_depth, **kw)
        from clusterank.cli.common import out

        for line in result.lines():
            out.print(line)
        return result.comparison

    return run
