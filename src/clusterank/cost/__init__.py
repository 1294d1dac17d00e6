"""Economics: what embedding 10k to 2.5M texts costs and how long it takes, API against self-hosted.

`run_cost()` does what `clusterank cost` does in one call (`run_judge_cost()` what `cost --judge` does);
underneath, `load_prices()` reads the dated price table, `measure_machine()` times the offline models here and `plan_costs()` estimates every
option at every size. `clusterank.viz.cost.write_cost_html()` draws the charts. The names load on first
use (PEP 562).
"""

from __future__ import annotations

from clusterank.lazy import lazy_names

_EXPORTS = {
    "clusterank.cost.estimate": ("CostEstimate", "Option", "api_estimate", "savings_percent", "selfhosted_estimate"),
    "clusterank.cost.machine": ("measure_machine",),
    "clusterank.cost.plan": ("DEFAULT_SIZES", "DEFAULT_TOKENS_PER_TEXT", "CostPlan", "parse_counts", "plan_costs"),
    "clusterank.prices": ("PriceTable", "api_price", "default_prices", "load_prices"),
    "clusterank.cost.run": ("run_cost", "time_this_machine"),
    "clusterank.cost.throughput": ("Throughput",),
    "clusterank.cost.judging": ("JudgeEstimate", "JudgePlan", "JudgeRate", "Workload", "judge_api_estimate",
                                "judge_gpu_estimate", "judge_machine_estimate", "judging_price", "pairs_per_query"),
    "clusterank.cost.judge_run": ("grade_prompt", "measure_local_judge", "prompt_tokens", "run_judge_cost"),
}
"""module -> the names it defines that this package offers; `__getattr__` imports the module on first use."""

__all__ = ["DEFAULT_SIZES", "DEFAULT_TOKENS_PER_TEXT", "CostEstimate", "CostPlan", "Option", "PriceTable",
           "Throughput", "api_estimate", "api_price", "default_prices", "load_prices", "measure_machine",
           "parse_counts", "plan_costs", "run_cost", "savings_percent", "selfhosted_estimate", "time_this_machine",
           "JudgeEstimate", "JudgePlan", "JudgeRate", "Workload", "judge_api_estimate", "judge_gpu_estimate",
           "judge_machine_estimate", "judging_price", "pairs_per_query", "grade_prompt", "measure_local_judge",
           "prompt_tokens", "run_judge_cost"]


__getattr__, __dir__ = lazy_names(_EXPORTS, globals())
