"""Distillation simulator: harvest teacher outputs (sampled text or teacher-forced top-k log-probs),
watermark them with a key, mix with clean data, train students, and hand them to the radioactivity test.

* :mod:`distillguard.distill.harvest` -- resumable, cached harvests (top-k logits of the clean teacher on
  real text; watermarking is applied afterwards, so one teacher pass serves every key and control).
* :mod:`distillguard.distill.student` -- small students trained from scratch or a copy of the teacher,
  by logit distillation (top-k) or next-token cross-entropy on sampled text.

The steps the benchmarks (``benchmarks/``, one script per question) share:

* :mod:`distillguard.distill.bench` -- the result record (run record included), atomic ``.json`` + ``.md``
  writer, markdown tables.
* :mod:`distillguard.distill.sampled` -- students of sampled teacher answers: keys, harvests, the suspect test,
  the dilution benchmark's public data.
* :mod:`distillguard.distill.zoo`, :mod:`distillguard.distill.evaluate`, :mod:`distillguard.distill.finetune` --
  the fingerprint zoo: its members, their scoring and evaluation, their training.
"""
