"""The lowering of `sep` ops to Linalg on tensors, one function per op (the op table,
sepc/ops.py, says which), run by the `lower-to-linalg` pass."""
