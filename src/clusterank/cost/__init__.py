"""Economics: what embedding 10k to 2.5M texts costs and how long it takes, API against self-hosted.

`load_prices()` reads the dated price table; `plan_costs()` estimates every option at every size;
`measure_machine()` times the offline models here; `write_cost_html()` draws the charts.
"""

from clusterank.cost.estimate import Estimate, Option, api_estimate, savings_percent, selfhosted_estimate
from clusterank.cost.machine import Throughput, measure_machine
from clusterank.cost.plan import DEFAULT_SIZES, CostPlan, parse_counts, plan_costs
from clusterank.cost.prices import PriceTable, api_price, default_prices, load_prices

__all__ = ["DEFAULT_SIZES", "CostPlan", "Estimate", "Option", "PriceTable", "Throughput", "api_estimate",
           "api_price", "default_prices", "load_prices", "measure_machine", "parse_counts", "plan_costs",
           "savings_percent", "selfhosted_estimate"]
