"""benchmarks/processor_speed.py --schemes: every scheme runs in generation, ratios are to the unmarked run."""

import pytest
from conftest import build_tiny_lm, load_benchmark_script

from distillguard.models import LoadedModel

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def speed_mod():
    yield from load_benchmark_script("processor_speed")


def test_scheme_overhead_times_every_scheme_on_a_tiny_model(speed_mod, char_tokenizer):
    lm = LoadedModel(build_tiny_lm(len(char_tokenizer), seed=0), char_tokenizer, "tiny", "tiny", False)
    rows = speed_mod.scheme_overhead(lm, [1, 3], new_tokens=4, rounds=2)
    names = ["none", "KGW δ=2", "ADFP λ=24 (teacher proxy)", "ADS (teacher-copy proxy)", "ADFP (teacher proxy) + ADS"]
    assert [r["scheme"] for r in rows] == names * 2
    for r in rows:
        assert r["median_s"] > 0 and r["x_none"] > 0 and r["rounds"] == 2
        if r["scheme"] == "none":
            assert r["x_none"] == 1.0
    md = speed_mod._schemes_markdown({"device_name": "CPU", "model": "tiny", "schemes": rows,
                                      "run": {"command": "processor_speed.py --schemes", "utc": "now"}})
    assert "| 3 | ADS (teacher-copy proxy) |" in md


def test_ads_is_timed_with_a_unit_direction(speed_mod, char_tokenizer):
    from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id

    lm = LoadedModel(build_tiny_lm(len(char_tokenizer), seed=0), char_tokenizer, "tiny", "tiny", False)
    key = WatermarkKey.generate(WatermarkSpec(vocab_size=len(char_tokenizer),
                                                tokenizer_id=tokenizer_id(char_tokenizer)))
    procs = speed_mod.scheme_processors(lm, key, 0.7)
    ads = procs["ADS (teacher-copy proxy)"][0]
    moved = sum(float(((a - b) ** 2).sum()) for a, b in zip(ads.plus.model.parameters(), lm.model.parameters()))
    assert moved ** 0.5 == pytest.approx(1e-2, rel=1e-3)  # theta+ = theta + eps * g, |g| = 1
