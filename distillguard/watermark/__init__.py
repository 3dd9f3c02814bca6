"""Keyed logit-biasing watermarks: the PRF, the ``LogitsProcessor`` s and batched watermarked generation."""

from distillguard.watermark.adfp import ADFPLogitsProcessor
from distillguard.watermark.ads import ADSLogitsProcessor
from distillguard.watermark.processor import WatermarkLogitsProcessor

__all__ = ["WatermarkLogitsProcessor", "ADFPLogitsProcessor", "ADSLogitsProcessor"]
