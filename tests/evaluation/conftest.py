"""Fixtures: tiny real models (tokenizer trained here, random-init Llama), small
benchmark tasks of each output type, and a loopback OpenAI-compatible server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gauntlet.evaluation import BenchmarkTask, write_tasks
from gauntlet.evaluation.harness import force_offline

force_offline()

CORPUS = [
    "Question: What is 3 plus 4?\nAnswer: 7",
    "질문: 3 더하기 4는 얼마입니까?\n답: 7",
    "one, two, three, four, five",
    "하나, 둘, 셋, 넷, 다섯",
    "The capital of Korea is Seoul.",
    "한국의 수도는 서울입니다.",
    "Monday, Tuesday, Wednesday, Thursday",
]


def build_tiny_model(folder: Path, *, seed: int) -> Path:
    """A random-init LlamaForCausalLM (hidden 32, 2 layers) with a BPE tokenizer trained
    on a few bilingual lines, saved as an HF folder with safetensors weights."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(CORPUS * 10, trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|endoftext|>", bos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        eos_token_id=fast.eos_token_id,
        bos_token_id=fast.bos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    model = transformers.LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "team", seed=0)


@pytest.fixture(scope="session")
def target_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "frontier", seed=1)


def small_tasks(n: int = 6) -> list[BenchmarkTask]:
    mc = tuple(
        {"id": f"mc{i}", "context": f"Question: What is {i} plus 2?\nAnswer:", "choices": [f" {i + 2}", f" {i + 5}"], "answer": i % 2}
        for i in range(n)
    )
    ll = tuple({"id": f"ll{i}", "context": f"하나, 둘, {i},", "continuation": f" {i + 1}"} for i in range(n))
    gen = tuple({"id": f"g{i}", "prompt": f"Q: {i} plus 1?\nA:", "target": str(i + 1)} for i in range(n))
    return [
        BenchmarkTask("t_mc", "multiple_choice", "en", mc, group="common"),
        BenchmarkTask("t_ll", "loglikelihood", "ko", ll, group="agency"),
        BenchmarkTask("t_gen", "generate_until", "en", gen, group="individual", metadata={"max_gen_toks": 4}),
    ]


@pytest.fixture(scope="session")
def make_tasks():
    """small_tasks(n): one multiple-choice, one log-likelihood and one generation task."""
    return small_tasks


@pytest.fixture(scope="session")
def task_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tasks")
    write_tasks(small_tasks(), out)
    return out


# ---------------------------------------------------------------- loopback completions server


class _CompletionModel:
    """Answers OpenAI /v1/completions requests from an HF model folder: echoed prompt
    log-probabilities (what lm-eval's loglikelihood requests need) and greedy text."""

    def __init__(self, folder: Path):
        import torch
        import transformers

        self.torch = torch
        self.model = transformers.AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.lock = threading.Lock()

    def _ids(self, prompt) -> list[int]:
        return list(prompt) if isinstance(prompt, list) else self.tokenizer(prompt)["input_ids"]

    def complete(self, body: dict) -> dict:
        prompts = body["prompt"]
        if isinstance(prompts, str) or (prompts and isinstance(prompts[0], int)):
            prompts = [prompts]
        choices = []
        with self.lock, self.torch.no_grad():
            for index, prompt in enumerate(prompts):
                ids = self._ids(prompt)
                if body.get("echo"):
                    choices.append({"index": index, "text": "", "logprobs": self._echo(ids)})
                else:
                    choices.append({"index": index, "text": self._generate(ids, body), "logprobs": None})
        return {"id": "cmpl-test", "object": "text_completion", "model": body.get("model"), "choices": choices}

    def _echo(self, ids: list[int]) -> dict:
        logits = self.model(self.torch.tensor([ids])).logits[0]
        logprobs = self.torch.log_softmax(logits.float(), dim=-1)
        token_logprobs: list = [None]
        top: list = [None]
        for pos in range(1, len(ids)):
            row = logprobs[pos - 1]
            token_logprobs.append(float(row[ids[pos]]))
            best = int(row.argmax())
            top.append({self.tokenizer.decode([best]) + f"#{best}": float(row[best])})
        row = logprobs[-1]
        best = int(row.argmax())
        token_logprobs.append(float(row[best]))
        top.append({self.tokenizer.decode([best]) + f"#{best}": float(row[best])})
        return {"tokens": [self.tokenizer.decode([t]) for t in ids] + [""], "token_logprobs": token_logprobs, "top_logprobs": top}

    def _generate(self, ids: list[int], body: dict) -> str:
        out = self.model.generate(
            self.torch.tensor([ids]), max_new_tokens=int(body.get("max_tokens", 16)), do_sample=False,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        text = self.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)
        for stop in body.get("stop") or []:
            if stop and stop in text:
                text = text[: text.index(stop)]
        return text


@pytest.fixture
def completions_server(tiny_model):
    """http://127.0.0.1:<port>/v1/completions serving `tiny_model`; loopback only."""
    backend = _CompletionModel(tiny_model)
    requests_seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path.rstrip("/") != "/v1/completions":
                self.send_error(404)
                return
            requests_seen.append(body)
            payload = json.dumps(backend.complete(body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/completions", requests_seen
    finally:
        server.shutdown()
        server.server_close()
