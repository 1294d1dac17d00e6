"""Economics: what embedding 10k to 2.5M texts costs and how long it takes, API against self-hosted.

`run_cost()` does what `clusterank cost` does in one call; underneath, `load_prices()` reads the dated
price table, `measure_machine()` times the offline models here and `plan_costs()` estimates every
option at every size. `clusterank.viz.cost.write_cost_html()` draws the charts.
"""

from clusterank.cost.estimate import CostEstimate, Option, api_estimate, savings_percent, selfhosted_estimate
from clusterank.cost.machine import measure_machine
from clusterank.cost.plan import DEFAULT_SIZES, DEFAULT_TOKENS_PER_TEXT, CostPlan, parse_counts, plan_costs
from clusterank.prices import PriceTable, api_price, default_prices, load_prices
from clusterank.cost.run import run_cost, time_this_machine
from clusterank.cost.throughput import Throughput

__all__ = ["DEFAULT_SIZES", "DEFAULT_TOKENS_PER_TEXT", "CostEstimate", "CostPlan", "Option", "PriceTable",
           "Throughput", "api_estimate", "api_price", "default_prices", "load_prices", "measure_machine",
           "parse_counts", "plan_costs", "run_cost", "savings_percent", "selfhosted_estimate", "time_this_machine"]
