"""Statistical detectors: watermarked text, radioactive models, harvesting accounts in API logs."""

from distillguard.detect.text import DEFAULT_ALPHA, TextScore, score_batch, score_text, score_tokens

__all__ = ["DEFAULT_ALPHA", "TextScore", "score_batch", "score_text", "score_tokens"]
