"""Benchmark files: reading each task's layout, labels, encoding, binarizing, augmentation."""
