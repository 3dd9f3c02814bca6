"""Keyed logit-biasing watermarks: the PRF, the ``LogitsProcessor`` and batched watermarked generation."""

from distillguard.watermark.processor import WatermarkLogitsProcessor

__all__ = ["WatermarkLogitsProcessor"]
