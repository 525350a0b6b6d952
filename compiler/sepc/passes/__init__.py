"""sepc's own passes, declared with `registry.module_pass` and found by name through the
lazy registry (`registry.get_pass`)."""
from .registry import PassSpec, all_passes, get_pass, module_pass, parse_pipeline, run_passes  # noqa: F401
