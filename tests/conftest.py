"""Shared fixtures: tiny randomly initialised models built from configs (no download)."""

from __future__ import annotations

import importlib.util
import string
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

TINY_CHARS = list(string.ascii_letters + string.digits + string.punctuation + " \n")


def build_char_tokenizer():
    """A real fast tokenizer with one token per character (plus <pad>, <bos>, <eos>)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2}
    for ch in TINY_CHARS:
        vocab.setdefault(ch, len(vocab))
    vocab["<unk>"] = len(vocab)
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>", unk_token="<unk>"
    )
    tok.padding_side = "left"
    return tok


def build_tiny_lm(vocab_size: int, seed: int = 0, layers: int = 2, hidden: int = 64):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(cfg)
    model.eval()
    return model


@pytest.fixture(scope="session")
def char_tokenizer():
    return build_char_tokenizer()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, char_tokenizer) -> Path:
    """A tiny Llama saved as a Hugging Face directory with safetensors weights and a tokenizer."""
    path = tmp_path_factory.mktemp("tiny_lm")
    model = build_tiny_lm(len(char_tokenizer))
    model.save_pretrained(path, safe_serialization=True)
    char_tokenizer.save_pretrained(path)
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep test runs out of the user's cache, except the dequantised real teacher (shared, read-mostly)."""
    monkeypatch.setenv("DISTILLGUARD_CACHE", str(tmp_path_factory.getbasetemp().parent / "dg-test-cache"))


def load_benchmark_script(name: str) -> Iterator[ModuleType]:
    """Import ``benchmarks/<name>.py`` as a module for the duration of a fixture (yield it, then unregister)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # a script's dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


def tiny_antidistillation_bench(pre: ModuleType, tok, work: Path, n_harvest: int | None = None):
    """An antidistillation benchmark setup around a tiny random teacher (the real one is not loaded), at the
    ``tiny`` preset of ``pre`` (``benchmarks/antidistillation_pretrained.py``): ``(bench, all its prompts)``."""
    from distillguard.distill import antidistillation_bench as ad
    from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
    from distillguard.models import LoadedModel

    teacher = LoadedModel(build_tiny_lm(len(tok), seed=0), tok, "tiny-teacher", "tiny-teacher", False)
    key = WatermarkKey(ad.BENCH_SECRET, WatermarkSpec(vocab_size=len(tok), gamma=ad.GAMMA, delta=2.0,
                                                      tokenizer_id=tokenizer_id(tok)))
    cfg, _ = pre.PRESETS["tiny"]
    cfg = pre.replace(cfg, n_harvest=n_harvest or cfg.n_harvest)
    prompts = [f"question {i}: what is {i}+{i}?" for i in range(cfg.n_quality + cfg.n_harvest)]
    splits = {"Q": prompts[: cfg.n_quality], "D": [], "P": [], "H": prompts[cfg.n_quality :]}
    return ad.Bench(cfg, work, teacher, key, splits), prompts
