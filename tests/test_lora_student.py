"""LoRA students: only the adapter trains, the merged model is saved as a plain Hugging Face directory."""

import copy

import pytest
import torch
from transformers import AutoModelForCausalLM

from distillguard.distill.student import lora_wrap, make_student, train_text_student


def test_lora_student_trains_the_adapter_only_and_saves_a_plain_merged_model(char_tokenizer, tmp_path):
    V = len(char_tokenizer)
    base = make_student(V, layers=1, hidden=32, seed=0)
    init = copy.deepcopy(base)
    seqs = [char_tokenizer.encode("the cat sat on the mat " * 3, add_special_tokens=False) for _ in range(8)]
    info = train_text_student(tmp_path / "lora", char_tokenizer, seqs, epochs=2, lr=1e-2, init=init, lora_rank=4)
    assert info["lora_rank"] == 4 and info["init"] == "continued"
    assert not any("lora" in f.name for f in (tmp_path / "lora").iterdir())  # merged: no adapter files
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "lora")
    assert not any("lora" in n for n, _ in merged.named_parameters())
    b, m = dict(base.named_parameters()), dict(merged.named_parameters())
    # the adapter sits on the linear layers: they moved; the embeddings (not adapted) did not
    assert torch.equal(b["model.embed_tokens.weight"], m["model.embed_tokens.weight"])
    moved = [n for n in b if "proj" in n and not torch.allclose(b[n], m[n])]
    assert moved, "no linear layer moved: the adapter was not merged"
    ids = torch.tensor([seqs[0][:20]])
    with torch.no_grad():  # and the fine-tune learned something: lower loss than the base on its training text
        lb = base(ids, labels=ids).loss.item()
        lm = merged(ids, labels=ids).loss.item()
    assert lm < lb


def test_lora_needs_a_pretrained_model_and_a_positive_rank(char_tokenizer, tmp_path):
    with pytest.raises(ValueError, match="init"):
        train_text_student(tmp_path / "x", char_tokenizer, [[1, 2, 3]], lora_rank=4)
    with pytest.raises(ValueError, match="rank"):
        lora_wrap(make_student(16, layers=1, hidden=16), rank=0)
