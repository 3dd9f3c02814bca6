import numpy as np
import pytest
import torch

from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec
from distillguard.watermark import WatermarkLogitsProcessor
from distillguard.watermark.prf import context_seeds_np, fmix64_np, is_green_np, key_material, seed_to_arc_np
from distillguard.watermark.processor import _fmix64

V = 997  # deliberately not a power of two
MODES = [("left", 0), ("left", 1), ("left", 3), ("min", 1), ("min", 4)]


def _key(seed: int = 0, **spec) -> WatermarkKey:
    return WatermarkKey(bytes([seed + 1]) * 32, WatermarkSpec(vocab_size=V, **spec))


def _detector_green_rows(key, spec, input_ids: torch.Tensor) -> np.ndarray:
    """What the detector believes is green for every candidate token after each row's context."""
    material = key_material(key, spec)
    h = spec.context_width
    rows = []
    for ctx in input_ids.numpy():
        window = np.array([ctx[::-1][:h]] * V, dtype=np.int64).reshape(V, h)
        tokens = np.arange(V, dtype=np.int64)
        seeds = context_seeds_np(material, window, tokens)
        p, o = seed_to_arc_np(seeds, spec)
        rows.append(is_green_np(p, o, tokens, material.positions, spec))
    return np.stack(rows)


@pytest.mark.parametrize("seeding, h", MODES)
def test_processor_and_detector_agree_exactly(seeding, h):
    key = _key(3, context_width=h, seeding=seeding, delta=1.5)
    proc = WatermarkLogitsProcessor(key)
    input_ids = torch.randint(0, V, (6, 7), generator=torch.Generator().manual_seed(h))
    bias = proc(input_ids, torch.zeros(6, V))
    expected = _detector_green_rows(key, proc.spec, input_ids)
    assert np.array_equal(bias.numpy() > 0, expected)
    assert torch.all((bias == 0) | (bias == 1.5))


def test_left_green_list_has_exactly_gamma_v_tokens():
    key = _key(1, gamma=0.3)
    proc = WatermarkLogitsProcessor(key)
    bias = proc(torch.randint(0, V, (50, 3)), torch.zeros(50, V))
    assert torch.all((bias > 0).sum(dim=1) == round(0.3 * V))


def test_green_lists_of_distinct_contexts_look_independent():
    # Overlap of two independent gamma-lists has mean gamma^2 * V; identical lists would give gamma * V.
    key = _key(2)
    proc = WatermarkLogitsProcessor(key)
    ctx = torch.arange(400).view(-1, 1)
    green = proc(ctx, torch.zeros(400, V)) > 0
    overlap = (green[::2] & green[1::2]).sum(dim=1).double()
    G = proc.spec.green_size
    expected = G * G / V
    assert abs(overlap.mean().item() - expected) < 0.1 * expected
    # and every token is green in about gamma of the contexts
    per_token = green.double().mean(dim=0)
    assert abs(per_token.mean().item() - G / V) < 1e-9
    assert per_token.std().item() < 0.05


def test_fmix64_torch_matches_numpy():
    x = np.random.default_rng(0).integers(0, 2**63, size=1000, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    t = _fmix64(torch.from_numpy(x.view(np.int64)))
    assert np.array_equal(t.numpy().view(np.uint64), fmix64_np(x))


@pytest.mark.parametrize("seeding, h", MODES)
def test_batched_equals_unbatched(seeding, h):
    proc = WatermarkLogitsProcessor(_key(4, context_width=h, seeding=seeding))
    ids = torch.randint(0, V, (8, 9))
    scores = torch.randn(8, V)
    batched = proc(ids, scores.clone())
    for i in range(8):
        assert torch.equal(proc(ids[i : i + 1], scores[i : i + 1].clone()), batched[i : i + 1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_dtypes(dtype):
    proc = WatermarkLogitsProcessor(_key(5))
    ids = torch.randint(0, V, (4, 3))
    ref = proc(ids, torch.zeros(4, V)) > 0
    out = proc(ids, torch.zeros(4, V, dtype=dtype))
    assert out.dtype == dtype and torch.equal(out > 0, ref)


def test_left_padded_rows_use_their_last_real_tokens():
    proc = WatermarkLogitsProcessor(_key(6))
    padded = torch.tensor([[0, 0, 0, 17, 23], [5, 9, 11, 17, 23]])
    out = proc(padded, torch.zeros(2, V))
    assert torch.equal(out[0], out[1])  # h = 1: same last token, same list, padding irrelevant


@pytest.mark.parametrize("seeding, h", MODES)
def test_row_keys_mark_each_row_with_its_account(seeding, h):
    master = _key(7, context_width=h, seeding=seeding)
    keys = [master.for_account(f"acct-{i % 3}") for i in range(6)]
    ids = torch.randint(0, V, (6, 5))
    mixed = WatermarkLogitsProcessor(keys)(ids, torch.zeros(6, V))
    for i, k in enumerate(keys):
        alone = WatermarkLogitsProcessor(k)(ids[i : i + 1], torch.zeros(1, V))
        assert torch.equal(mixed[i : i + 1], alone)
    assert not torch.equal(mixed[0], mixed[1])  # different accounts, same-length context, different lists


def test_row_keys_must_match_batch_and_master():
    master = _key(8)
    proc = WatermarkLogitsProcessor([master.for_account("a"), master.for_account("b")])
    with pytest.raises(DistillguardError, match="row keys"):
        proc(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, V))
    with pytest.raises(DistillguardError, match="one master"):
        WatermarkLogitsProcessor([master, _key(9)])


def test_context_shorter_than_h_is_left_unwatermarked():
    proc = WatermarkLogitsProcessor(_key(10, context_width=4))
    scores = torch.randn(2, V)
    assert torch.equal(proc(torch.zeros(2, 3, dtype=torch.long), scores.clone()), scores)


def test_vocab_mismatch_and_padded_logits():
    proc = WatermarkLogitsProcessor(_key(11))
    with pytest.raises(DistillguardError, match="vocab mismatch"):
        proc(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, V - 1))
    wide = proc(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, V + 3))
    assert torch.all(wide[:, V:] == 0) and wide[:, :V].sum() > 0
    with pytest.raises(DistillguardError, match="tokenizer mismatch"):
        proc(torch.full((1, 2), V + 5), torch.zeros(1, V))


def test_key_without_spec_needs_vocab_size():
    with pytest.raises(DistillguardError, match="vocab_size"):
        WatermarkLogitsProcessor(WatermarkKey(b"\x01" * 32))
    proc = WatermarkLogitsProcessor(WatermarkKey(b"\x01" * 32), vocab_size=50, gamma=0.5)
    assert proc.spec.green_size == 25


def test_works_inside_model_generate(char_tokenizer):
    from conftest import build_tiny_lm
    from transformers import LogitsProcessorList

    model = build_tiny_lm(len(char_tokenizer))
    key = WatermarkKey(b"\x05" * 32, WatermarkSpec(vocab_size=len(char_tokenizer), delta=4.0))
    from distillguard.detect import score_tokens

    enc = char_tokenizer(["hello", "hi"], return_tensors="pt", padding=True)
    torch.manual_seed(0)
    out = model.generate(**enc, max_new_tokens=60, min_new_tokens=60, do_sample=True, pad_token_id=0,
                         logits_processor=LogitsProcessorList([WatermarkLogitsProcessor(key)]))
    new = out[:, enc["input_ids"].shape[1]:]
    other = WatermarkKey(b"\x06" * 32, key.spec)
    for row in new:
        assert score_tokens(row.numpy(), key).log10_p < -6
        assert score_tokens(row.numpy(), other).log10_p > -3
