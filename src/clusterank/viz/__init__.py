"""Drawing: the cluster map, the comparison report and the cost page, each a self-contained HTML page.

`page` builds every page (plotly.js inlined once); `map`, `report` and `cost` draw their numbers; `mpl`
renders the static PNGs. The numbers themselves come from `cluster`, `evaluate` and `cost`.
"""
