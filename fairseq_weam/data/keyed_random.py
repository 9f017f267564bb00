"""Random numbers that are a pure function of an integer key, e.g. (seed, epoch, index, side, stream, position).

Counter-based: SplitMix64's finalizer folded along the key's parts. A batch draws all its numbers in a few
vectorized numpy operations, and each number depends on its own key only: never on which items share the
batch, on their order, or on what a run drew before it was resumed. Keys that differ in any part give
unrelated numbers; keys of different lengths (one stream keyed by (seed, epoch, index, 2), another by
(seed, epoch, index, side, ...)) are told apart by the value of the part where they first differ.
"""
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S27, _S30, _S31, _S11 = np.uint64(27), np.uint64(30), np.uint64(31), np.uint64(11)


def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def derive_key(base, *parts):
    """The uint64 key array of ``base`` (a key from this function, or None) extended by integer ``parts``
    (scalars or arrays, broadcast together)."""
    z = np.zeros(1, dtype=np.uint64) if base is None else np.asarray(base, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for part in parts:
            z = _mix(z + _GOLDEN + np.asarray(part).astype(np.uint64))
    return z


def keyed_uniform(base, *parts):
    """Floats uniform in [0, 1), one per element of the key ``base`` extended by ``parts``."""
    return (derive_key(base, *parts) >> _S11).astype(np.float64) * 2.0**-53
