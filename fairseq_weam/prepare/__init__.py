"""Data preparation: raw parallel text -> cleaned, sentencepiece-encoded, word-aligned fairseq binaries."""
