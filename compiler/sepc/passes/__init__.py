"""sepc's own passes; importing this package registers them by name."""
from . import (add_thread_control, drop_buffer_arg_attrs, drop_output_results, fold_batch_norm,  # noqa: F401
               fuse_activation, lower_to_linalg, memref_copy_to_linalg, split_separable,
               verify_sep)
from .registry import PASSES, run_passes  # noqa: F401
