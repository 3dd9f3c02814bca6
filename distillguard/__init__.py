"""distillguard: prove that a model was distilled from yours.

Three lines of evidence, one package:

* :mod:`distillguard.watermark` -- keyed, batched logit-biasing watermarks for ``model.generate``;
* :mod:`distillguard.detect` -- exact statistical tests on text, on suspect models and on API logs;
* :mod:`distillguard.fingerprint` -- probes that test whether a suspect inherited the teacher's habits.
"""

__version__ = "0.1.0"
