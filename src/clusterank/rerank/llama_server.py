"""A small OpenAI-compatible chat server for judging, over llama.cpp in-process (`python -m` this module).

llama.cpp's own server returns answer log-probabilities only when the model computes logits for every
prompt token (`logits_all`), which makes each judgment ~10x slower on a CPU. Judging needs the
distribution of the first answer token only, and llama.cpp always computes the last position's
logits, so this server reads them directly: same `/v1/chat/completions` request and reply shape
(`logprobs.content[0].top_logprobs`), so local and remote judges share one client.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


class Judge:
    """A GGUF chat model loaded once; `complete` answers one chat request greedily with top log-probs."""

    def __init__(self, model_path: str, alias: str, n_ctx: int, threads: int):
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llm = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=threads, logits_all=False, verbose=False)
        self.alias = alias
        token_text = lambda t: self.llm.detokenize([t], special=True).decode("utf-8", "ignore")  # noqa: E731
        self.formatter = Jinja2ChatFormatter(template=self.llm.metadata["tokenizer.chat_template"],
                                             eos_token=token_text(self.llm.token_eos()),
                                             bos_token=token_text(self.llm.token_bos()))
        self.lock = threading.Lock()

    def _last_logits(self) -> np.ndarray:
        """Logits of the last evaluated position (llama.cpp keeps them even without `logits_all`)."""
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),)).astype(np.float64)

    def complete(self, body: dict) -> dict:
        """The chat completion for one request: greedy tokens, log-probs of the first one's alternatives."""
        prompt = self.formatter(messages=body["messages"]).prompt
        max_tokens = int(body.get("max_tokens") or 1)
        top_n = int(body.get("top_logprobs") or 5)
        with self.lock:
            tokens = self.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
            if len(tokens) + max_tokens > self.llm.n_ctx():
                raise ValueError(f"prompt of {len(tokens)} tokens does not fit the {self.llm.n_ctx()}-token context")
            self.llm.reset()
            self.llm.eval(tokens)
            out, first, finish = [], None, "length"
            for _ in range(max_tokens):
                logits = self._last_logits()
                logprobs = logits - (logits.max() + np.log(np.exp(logits - logits.max()).sum()))
                token = int(np.argmax(logprobs))
                if first is None:
                    top = np.argsort(-logprobs)[:top_n]
                    first = (token, logprobs, top)
                if token == self.llm.token_eos():
                    finish = "stop"
                    break
                out.append(token)
                self.llm.eval([token])
        text = self.llm.detokenize(out).decode("utf-8", "ignore")
        piece = lambda t: self.llm.detokenize([int(t)]).decode("utf-8", "ignore")  # noqa: E731
        token, logprobs, top = first
        content = [{"token": piece(token), "logprob": float(logprobs[token]),
                    "top_logprobs": [{"token": piece(t), "logprob": float(logprobs[t])} for t in top]}]
        return {"id": f"judge-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
                "model": self.alias,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "logprobs": {"content": content} if body.get("logprobs") else None,
                             "finish_reason": finish}],
                "usage": {"prompt_tokens": len(tokens), "completion_tokens": len(out),
                          "total_tokens": len(tokens) + len(out)}}


def serve(judge: Judge, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server answering `GET /v1/models` and `POST /v1/chat/completions`."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": judge.alias, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self):  # noqa: N802
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self._send(200, judge.complete(body))
            except (ValueError, KeyError, TypeError) as exc:
                self._send(400, {"error": {"message": str(exc)}})

        def log_message(self, *args):
            pass

    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    """Run the server until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", default="local")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    server = serve(Judge(args.model, args.alias, args.n_ctx, args.threads), args.host, args.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
