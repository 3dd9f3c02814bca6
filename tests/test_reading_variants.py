"""Reading mode's statistic chosen up front, and several variants in one call with a Bonferroni correction
(``reading_variants_test``, ``detect --reading-variants``; issue 30, item 4)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import TINY_CHARS, build_tiny_lm
from scipy import stats
from test_rank_reading import WORDS, h0_students  # noqa: F401  (h0_students is a fixture)

from distillguard.cli import main
from distillguard.detect.radioactivity import (
    ReadingOptions,
    account_keys,
    parse_reading_variants,
    read_predictions,
    reading_test,
    reading_variants_test,
)
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec
from distillguard.models import LoadedModel
from distillguard.suspects import LocalSuspect

VARIANTS = "default,top1,untrained-last,top=20"


# -- the syntax -----------------------------------------------------------------------------------------------
def test_parse_reading_variants_maps_each_variant_to_reading_options():
    vs = parse_reading_variants(" default , rank+untrained-last, unigram + top=64,top1,reference,vocabulary")
    assert [v.name for v in vs] == ["default", "rank+untrained-last", "unigram+top=64", "top1", "reference",
                                    "vocabulary"]
    opts = [v.options(reference="REF", vocabulary_texts=["v"], unigram_texts=["u"]) for v in vs]
    assert opts[0] == ReadingOptions()  # the default: nothing but the statistic chosen up front
    assert (opts[1].statistic, opts[1].untrained_last) == ("rank", True)
    assert (opts[2].statistic, opts[2].unigram_texts, opts[2].top, opts[2].reference) == ("auto", ["u"], 64, None)
    assert opts[3].statistic == "top1" and opts[4].reference == "REF" and opts[5].vocabulary_texts == ["v"]
    base = ReadingOptions(n_texts=7, alpha=0.01)
    assert vs[3].options(base).n_texts == 7 and vs[3].options(base).alpha == 0.01


@pytest.mark.parametrize("text, match", [
    ("median", "unknown term 'median'"), ("default+rank", "stands alone"), ("top=0", "integer K >= 1"),
    ("top=x", "integer K >= 1"), ("top1+untrained-last", "never-trained entries last"),
    ("reference+unigram", "choose one reading reference"), ("rank+top1", "choose one of rank and top1"),
    ("default,default", "same statistic"), ("unigram+top=5,top=5+unigram", "same statistic"),
    ("", "no reading variant"), ("default,,top1", "empty reading variant"), ("rank+", "empty term"),
    ("top=3+top=4", "one top=K"), ("rank+rank", "twice"),
])
def test_parse_reading_variants_refuses_bad_syntax_in_one_line(text, match):
    with pytest.raises(DistillguardError, match=match) as info:
        parse_reading_variants(text)
    assert "\n" not in str(info.value)


# -- the correction ---------------------------------------------------------------------------------------------
def test_corrected_p_is_k_times_the_smallest_variant_p_and_each_variant_is_its_single_run(h0_students):  # noqa: F811  (the fixture)
    master, accounts, _, texts, paths = h0_students
    keys = account_keys(master, accounts)
    text = texts.read_text().splitlines()
    for name in ("marked", "clean"):
        suspect = LocalSuspect.load(paths[name])
        res = reading_variants_test(suspect, keys, VARIANTS, text)
        assert res.k == 4 and list(res.reports) == VARIANTS.split(",")
        p_min = min(r.best.p_holm for r in res.reports.values())
        assert res.p_corrected == pytest.approx(min(1.0, 4 * p_min), rel=1e-12, abs=0)
        lp_min = min(r.best.log10_p_holm for r in res.reports.values())
        assert res.log10_p_corrected == pytest.approx(min(0.0, math.log10(4) + lp_min))
        assert res.detected == (res.log10_p_corrected <= math.log10(1e-3))
        for v in parse_reading_variants(VARIANTS):  # each variant: the p-values of its own single run
            alone = reading_test(suspect, keys, text, options=v.options())
            got = res.reports[v.name]
            assert [r.log10_p for r in got.results] == [r.log10_p for r in alone.results], v.name
            assert [r.log10_p_holm for r in got.results] == [r.log10_p_holm for r in alone.results]
            assert got.units["statistic"] == alone.units["statistic"] and got.alpha == pytest.approx(1e-3 / 4)
        doc = res.to_dict()
        assert doc["p_value"] == res.p_corrected and doc["correction"]["factor"] == 4
        assert [v["name"] for v in doc["variants"]] == VARIANTS.split(",")
        rows = {r["account"]: r for r in doc["accounts"]}
        for acct, row in rows.items():  # per account: the same correction over its own Holm p
            i = accounts.index(acct)
            assert row["p_corrected"] == pytest.approx(
                min(1.0, 4 * min(r.results[i].p_holm for r in res.reports.values())), rel=1e-12, abs=0)
            assert row["detected"] == (row["log10_p_corrected"] <= math.log10(1e-3) + 1e-12)
        if name == "marked":
            assert res.detected and res.attributed == ["acct-7"] and rows["acct-7"]["detected"]
        else:
            assert not res.detected and res.attributed == []


def test_cli_single_variant_gives_todays_single_run(h0_students, capsys):  # noqa: F811  (the fixture)
    _, accounts, key_path, texts, paths = h0_students
    base = ["detect", "--key", str(key_path), "--texts", str(texts), "--accounts", ",".join(accounts), "--json",
            "--suspect", str(paths["marked"])]
    for today, variant in (([], "default"), (["--reading-statistic", "top1"], "top1"),
                           (["--reading-untrained-last", "--reading-top", "20"], "untrained-last+top=20")):
        rc_single = main(base + today)
        single = json.loads(capsys.readouterr().out)
        rc_var = main(base + ["--reading-variants", variant])
        var = json.loads(capsys.readouterr().out)
        assert rc_var == rc_single and var["detected"] == single["detected"]
        assert var["p_value"] == single["p_holm"] and var["log10_p"] == pytest.approx(single["log10_p_holm"])
        assert var["attributed_to"] == single["attributed_to"]
        inner = var["variants"][0]
        assert inner["name"] == variant and inner["log10_p"] == single["log10_p"]
        assert inner["report"]["results"] == single["results"]


def test_cli_variants_report_records_every_variant_and_the_correction(h0_students, tmp_path, capsys):  # noqa: F811  (the fixture)
    """Four variants (a reference model and public text among them) on the marked and the clean student: the
    verdict, exit code and attribution follow the corrected p; the report and the page say what ran."""
    _, accounts, key_path, texts, paths = h0_students
    rng = np.random.default_rng(12)
    public = tmp_path / "public.txt"
    public.write_text("".join(" ".join(f"w{i}" for i in rng.integers(0, WORDS - 4, 80)) + "\n" for _ in range(50)))
    variants = "default,reference,unigram+untrained-last,top1"
    base = ["detect", "--key", str(key_path), "--texts", str(texts), "--accounts", ",".join(accounts),
            "--reading-variants", variants, "--reading-reference", str(paths["clean"]),
            "--reading-unigram", str(public)]
    out = tmp_path / "r.json"
    assert main(base + ["--suspect", str(paths["marked"]), "--report", str(out), "--html", str(tmp_path / "r.html")]) == 1
    text_out = capsys.readouterr().out
    assert "RADIOACTIVE (reading mode, 4 variants" in text_out and "acct-7" in text_out
    assert text_out.count("  variant ") == 4
    rep = json.loads(out.read_text())
    assert [v["name"] for v in rep["variants"]] == variants.split(",")
    assert rep["variants"][1]["options"]["reference"] and "unigram" in rep["variants"][2]["report"]["units"]["reference"]
    assert rep["correction"]["method"] == "bonferroni" and rep["correction"]["variants_run"] == 4
    assert rep["threshold"]["alpha_per_variant"] == pytest.approx(1e-3 / 4)
    p_min = min(v["p_holm"] for v in rep["variants"])
    assert rep["p_value"] == pytest.approx(min(1.0, 4 * p_min), rel=1e-12, abs=0)
    assert rep["attributed_to"] == ["acct-7"] and any("Bonferroni over 4" in n for n in rep["notes"])
    page = (tmp_path / "r.html").read_text()
    assert "Bonferroni" in page and "reading variants" in page
    assert main(base + ["--suspect", str(paths["clean"]), "--json"]) == 0
    clean = json.loads(capsys.readouterr().out)
    assert clean["verdict"] == "not detected" and clean["attributed_to"] == []


# -- refused before any model loads ----------------------------------------------------------------------------
@pytest.fixture
def no_loading(monkeypatch):
    """Any attempt to open a suspect or a reference model fails the test."""
    import distillguard.suspects as suspects

    def boom(*a, **k):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(suspects, "open_suspect", boom)
    monkeypatch.setattr(suspects.LocalSuspect, "load", classmethod(boom))


@pytest.mark.parametrize("extra, match", [
    (["--reading-variants", "default,median"], "unknown term 'median'"),
    (["--reading-variants", "top=0"], "integer K >= 1"),
    (["--reading-variants", "top1+untrained-last"], "never-trained entries last"),
    (["--reading-variants", "default,,top1"], "empty reading variant"),
    (["--reading-variants", "default,default"], "same statistic"),
    (["--reading-variants", "default", "--reading-top", "5"], "drop --reading-top"),
    (["--reading-variants", "top1", "--reading-statistic", "top1"], "drop --reading-statistic"),
    (["--reading-variants", "vocabulary"], "needs --reading-vocabulary"),
    (["--reading-variants", "reference"], "needs --reading-reference"),
    (["--reading-variants", "default", "--reading-unigram", "sharegpt"], "no variant of --reading-variants uses it"),
    (["--reading-variants", "default", "--mode", "generation"], "reading mode only"),
])
def test_cli_bad_variants_exit_2_with_one_line_before_any_model_loads(h0_students, no_loading, capsys, extra,  # noqa: F811  (the fixture)
                                                                      match):
    _, _, key_path, texts, paths = h0_students
    rc = main(["detect", "--key", str(key_path), "--texts", str(texts), "--suspect", str(paths["clean"]), *extra])
    err = capsys.readouterr().err
    assert rc == 2 and match in err and err.count("\n") == 1, err


def test_cli_variant_the_key_rules_out_exits_2_before_the_suspect_loads(tmp_path, no_loading, capsys):
    key = tmp_path / "h1.key"
    WatermarkKey(b"\x07" * 32, WatermarkSpec(vocab_size=WORDS, context_width=1)).save(key)
    rc = main(["detect", "--key", str(key), "--suspect", str(tmp_path), "--reading-variants", "default,untrained-last"])
    err = capsys.readouterr().err
    assert rc == 2 and "reading variant 'untrained-last'" in err and err.count("\n") == 1, err


# -- the null ----------------------------------------------------------------------------------------------------
def test_corrected_p_is_calibrated_under_the_null_over_random_keys(char_tokenizer):
    """An unwatermarked tiny model reads clean text once; six variants are run for each of 300 random keys.
    The corrected p falls below alpha no more often than Binomial(300, alpha) allows (its 0.999 quantile). The
    head-of-ranking and coin tests are (close to) exact, so keeping the smallest uncorrected p is not: on 1,000
    keys with five such variants it fell below 0.1 for 18.8 % of them (corrected: 3.6 %)."""
    V = len(char_tokenizer)
    spec = WatermarkSpec(vocab_size=V, gamma=0.25, context_width=0)
    loaded = LoadedModel(build_tiny_lm(V, seed=7), char_tokenizer, "tiny", "tiny", False)
    suspect = LocalSuspect(loaded)
    rng = np.random.default_rng(21)
    chars = [c for c in TINY_CHARS if c.strip()]
    texts = ["".join(rng.choice(chars, 100)) for _ in range(24)]
    preds = read_predictions(suspect, [char_tokenizer.encode(t, add_special_tokens=False) for t in texts])
    public = ["".join(rng.choice(chars, 200)) for _ in range(30)]
    variants = parse_reading_variants("default,top1,untrained-last,top=5,top=20,unigram")
    p_corr, p_min = [], []
    for _ in range(300):
        key = WatermarkKey(rng.bytes(32), spec)
        r = reading_variants_test(suspect, [key], variants, options=ReadingOptions(alpha=0.05), predictions=preds,
                                  unigram_texts=public)
        p_corr.append(r.p_corrected)
        p_min.append(10.0 ** r.log10_p_min)
    p_corr, p_min = np.array(p_corr), np.array(p_min)
    for alpha in (0.01, 0.05, 0.1, 0.2):
        assert (p_corr <= alpha).sum() <= stats.binom.ppf(0.999, len(p_corr), alpha), alpha
    assert np.all(p_corr >= p_min) and np.all(p_corr <= 1.0)
    assert (p_min <= 0.2).sum() > (p_corr <= 0.2).sum()  # what the correction takes away


def test_h1_key_default_and_rank_share_one_reading_and_match_their_single_runs(char_tokenizer):
    """An h = 1 key (left seeding): the default (top-1 coins) and the rank statistic (per frequent window) come from
    one reading that serves both; each equals its own single run; top=K larger than the vocabulary names its
    variant."""
    from distillguard.keys import tokenizer_id

    V = len(char_tokenizer)
    spec = WatermarkSpec(vocab_size=V, gamma=0.25, context_width=1, seeding="left",
                         tokenizer_id=tokenizer_id(char_tokenizer))
    key = WatermarkKey(b"\x33" * 32, spec)
    suspect = LocalSuspect(LoadedModel(build_tiny_lm(V, seed=5), char_tokenizer, "tiny", "tiny", False))
    rng = np.random.default_rng(3)
    chars = [c for c in TINY_CHARS if c.strip()]
    texts = ["".join(rng.choice(chars, 120)) for _ in range(16)]
    res = reading_variants_test(suspect, [key], "default,rank", texts)
    assert res.reports["default"].units["statistic"] == "top1" and res.reports["rank"].units["statistic"] == "rank"
    for name, statistic in (("default", "auto"), ("rank", "rank")):
        alone = reading_test(suspect, [key], texts, statistic=statistic)
        assert res.reports[name].best.log10_p == alone.best.log10_p, name
    assert res.p_corrected == pytest.approx(min(1.0, 2 * min(r.best.p_holm for r in res.reports.values())))
    with pytest.raises(DistillguardError, match="reading variant 'untrained-last'"):
        reading_variants_test(suspect, [key], "default,untrained-last", texts)
    h0 = WatermarkKey(b"\x34" * 32, WatermarkSpec(vocab_size=V, gamma=0.25, context_width=0,
                                                  tokenizer_id=tokenizer_id(char_tokenizer)))
    with pytest.raises(DistillguardError, match="reading variant 'top=5000'"):
        reading_variants_test(suspect, [h0], "default,top=5000", texts)
