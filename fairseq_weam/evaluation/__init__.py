"""Zero-shot cross-lingual evaluation: standard and generalized settings, attacks, reports and plots."""
