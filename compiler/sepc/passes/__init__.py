"""sepc's own passes; importing this package registers them by name."""
from . import (add_thread_control, drop_buffer_arg_attrs, drop_output_results,  # noqa: F401
               elide_zero_pads, fill_pad_borders, fold_batch_norm, free_after_last_use,
               fuse_activation, fuse_separable, lower_memref_copies, lower_to_linalg,
               prefetch_next_panels, split_separable, stagger_tile_buffers, verify_sep)
from .registry import PASSES, run_passes  # noqa: F401
