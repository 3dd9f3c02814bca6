import hashlib

import pytest

from distillguard.errors import DistillguardError
from distillguard.models import load_model, load_tokenizer


def test_loads_hf_safetensors_dir_without_touching_it(tiny_model_dir):
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tiny_model_dir.iterdir()}
    lm = load_model(tiny_model_dir)
    assert lm.vocab_size == len(load_tokenizer(tiny_model_dir)) and lm.tokenizer.padding_side == "left"
    assert lm.identity.startswith(str(tiny_model_dir)) and "sha256:" in lm.identity
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tiny_model_dir.iterdir()}
    assert before == after


def test_refuses_pickles_and_bad_dirs(tmp_path, tiny_model_dir):
    import shutil

    import torch

    pkl = tmp_path / "evil.pt"
    torch.save({"x": 1}, pkl)
    with pytest.raises(DistillguardError, match="pickled"):
        load_model(pkl)
    only_pickle = tmp_path / "only_pickle"
    only_pickle.mkdir()
    (only_pickle / "config.json").write_text("{}")
    torch.save({"x": 1}, only_pickle / "pytorch_model.bin")
    with pytest.raises(DistillguardError, match="only pickled"):
        load_model(only_pickle)
    with pytest.raises(DistillguardError, match="no such file"):
        load_model(tmp_path / "missing")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_model_dir, corrupt)
    weights = next(corrupt.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(DistillguardError, match="cannot load model"):
        load_model(corrupt)
    bad_gguf = tmp_path / "x.gguf"
    bad_gguf.write_bytes(b"not a gguf file at all")
    with pytest.raises(DistillguardError, match="cannot load"):
        load_model(bad_gguf)
