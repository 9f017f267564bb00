"""Cross-lingual word embeddings and synthetic pseudo-parallel pairs with exact word links (``weam-synthesize``)."""
