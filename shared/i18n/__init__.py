"""Internationalisation: the translation cache (seed 000) and its providers."""

from shared.i18n.translations import TextRejected, TranslationUnavailable, text_hash, translate, translate_batch

__all__ = ["TextRejected", "TranslationUnavailable", "text_hash", "translate", "translate_batch"]
