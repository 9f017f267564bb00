"""Perturbations for robust fine-tuning: embedding-space PGD, random embedding noise, synonym substitution."""
