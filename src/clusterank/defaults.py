"""Defaults that several layers share, defined once: the model, the bundled set's size, k-means and routing."""

DEFAULT_MODEL = "minilm-static"
"""The demo's model: static, so the bundled set embeds in seconds on two cores."""
BUNDLED_N = 6904
"""Profiles in the bundled set: as many as the seed's Hugging Face set."""
DEFAULT_K = 10
"""k of k-means: the seed's k=10."""
DEFAULT_SEED = 42
"""The k-means and data seed: the seed's random_state=42."""
AUTO_MARGIN = 0.05
"""Cosine margin of `nprobe=auto`: probe clusters whose centroid is this close to the best one."""
DEFAULT_RETRIEVER = "exact"
"""The retriever spec used when none is named."""
SEED_PIPELINE = "routed:nprobe=1"
"""The seed's method: route each query to its one nearest cluster."""
COMPARE_PIPELINES = ("exact", SEED_PIPELINE, "routed:nprobe=auto")
"""What `compare` runs per model: exact search, the seed's routing, routing with a margin, and (when the corpus
has labels) `LABELLED_PIPELINES`."""
LABELLED_PIPELINES = ("role",)
"""Added to `compare`'s default when the corpus has labels: role-aware search, alpha by nested CV."""
SHOWCASE_PIPELINES = ("exact", SEED_PIPELINE, "role", "prior")
"""The retrievers the demo and `compare`'s report show side by side for one job description: plain cosine, the
seed's routing, role-aware search and the label prior (the last two where the corpus has labels)."""
ROUTING_PIPELINES = ("exact", SEED_PIPELINE, "routed:nprobe=2", "routed:nprobe=auto")
"""What `clusters --eval` runs: exact search and routing at several widths."""
DEFAULT_TOKENS_PER_TEXT = 400
"""Tokens per text that `clusterank cost` assumes when no corpus is given (the seed's assumption)."""
SLOW_MODELS = ("all-mpnet-base-v2", "multilingual-e5-small")
"""Offline models left out of `compare`'s and `cost`'s defaults (named, or `--models all`, they run): minutes, not
seconds, for the bundled set on a CPU (multilingual-e5-small: ~3.5 bundled profiles/s on 2 cores)."""
