"""The options of `clusterank compare --judge`: LLM-judged relevance instead of labels (see `evaluate/judged.py`)."""

from __future__ import annotations

from typing import Callable, Optional

import typer

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
    from clusterank import check_judging, judged_compare, parse_judge

    spec = parse_judge(judge)
    check_judging(pool_depth, max_judgments, judge_checks, ragas, ragas_depth)

    def run(models, corpus, queries, **kw):
        result = judged_compare(models, corpus, queries, spec, pool_depth=pool_depth, max_judgments=max_judgments,
                                judge_checks=judge_checks, ragas=ragas, ragas_depth=ragas_depth, **kw)
        from clusterank.cli.common import out

        for line in result.lines():
            out.print(line)
        return result.comparison

    return run
