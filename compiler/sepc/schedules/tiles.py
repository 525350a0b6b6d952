"""Choosing tile sizes that keep vectorization legal for a given extent."""


def divisor_tile(extent: int, limit: int) -> int:
    """The largest tile <= limit that divides extent, or the whole extent if it is small.

    Depthwise width tiles must divide the width: the vectorizer can mask only the channel
    dimension of a depthwise conv, so a ragged width tile would not vectorize.
    """
    best = max(d for d in range(1, min(extent, limit) + 1) if extent % d == 0)
    if best * 2 <= limit and extent <= 2 * limit:
        return extent
    return best
