"""sepc: a compiler for depthwise-separable convolution networks on edge CPUs."""

__version__ = "0.1.0"
