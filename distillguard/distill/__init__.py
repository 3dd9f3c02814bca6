"""Distillation simulator: harvest teacher outputs (sampled text or teacher-forced top-k log-probs),
watermark them with a key, mix with clean data, train students, and hand them to the radioactivity test.

* :mod:`distillguard.distill.harvest` -- resumable, cached harvests (top-k logits of the clean teacher on
  real text; watermarking is applied afterwards, so one teacher pass serves every key and control).
* :mod:`distillguard.distill.student` -- small students trained from scratch or a copy of the teacher,
  by logit distillation (top-k) or next-token cross-entropy on sampled text.
"""
