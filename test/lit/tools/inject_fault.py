"""Run sepc with one fault injected, to check that the lit tests notice it:

    lit -j2 --param sepc="python $PWD/test/lit/tools/inject_fault.py FAULT" test/lit

(an absolute path: RUN lines run in the Output folder)

Every FAULT below must make some tests fail; a fault no test catches is a hole in the
suite. Not part of the suite itself (tools/ is excluded); it patches sepc internals, so a
refactoring may need it updated -- an unknown or stale patch target fails loudly.
"""
import dataclasses
import sys


def no_pass(name):
    from sepc.passes import registry
    real = registry.get_pass(name)
    registry._REGISTERED[name] = dataclasses.replace(real, run=lambda op, **options: None)


def relu6_is_relu():
    from sepc.lowering import activations
    activations.ACTIVATIONS["relu6"] = activations.Activation(activations.relu)


def avx512_is_256_bits():
    from sepc import targets
    targets.TARGETS["x86-avx512"] = dataclasses.replace(targets.TARGETS["x86-avx512"],
                                                        vector_bits=256)


def no_vectorization():
    from sepc import pipeline
    empty = ("module attributes {transform.with_named_sequence} {\n"
             "  transform.named_sequence @__transform_main(%root: !transform.any_op "
             "{transform.readonly}) {\n    transform.yield\n  }\n}\n")
    pipeline.vectorization_script = lambda root, target: empty


def no_depthwise_decomposition():
    from sepc.schedules import kinds
    if not hasattr(kinds.Depthwise2D, "decomposes"):
        raise AttributeError("inject_fault.py: Depthwise2D.decomposes is gone; update no-decompose")
    kinds.Depthwise2D.decomposes = lambda self: False


def same_padding_before():
    from sepc.frontend import shapes
    original = shapes.same_padding
    shapes.same_padding = lambda *args: tuple(reversed(original(*args)))


def user_errors_exit_1():
    from sepc import cli
    original = cli.main

    def main(argv=None):
        code = original(argv)
        return 1 if code == 2 else code
    cli.main = main


def strides_reversed():
    from sepc.lowering import layers
    original = layers.int_array
    layers.int_array = lambda op, name: (list(reversed(original(op, name)))
                                         if name in ("strides", "dilations")
                                         else original(op, name))


def matmul_as_mul_add():
    from sepc.schedules import kinds
    kinds.Matmul.named_contraction = lambda self, role: False


def ragged_matmul_rows():
    from sepc.schedules import kinds
    kinds.Matmul.rows = staticmethod(lambda k, t: t.tiling.matmul_rows)


def libm_exp():
    from mlir.dialects import math
    from sepc.lowering import activations, elementary
    elementary.exp = math.exp
    activations.ACTIVATIONS["tanh"] = activations.Activation(math.tanh)


def no_peeling():
    from sepc.schedules import SCHEDULES
    for schedule in SCHEDULES.values():
        type(schedule).peels = lambda self, s, t: False


FAULTS = {
    "no-fold": lambda: no_pass("fold-batch-norm"),
    "no-fuse": lambda: no_pass("fuse-activation"),
    "no-split": lambda: no_pass("split-separable"),
    "relu6-is-relu": relu6_is_relu,
    "avx512-256bit": avx512_is_256_bits,
    "no-vectorize": no_vectorization,
    "no-decompose": no_depthwise_decomposition,
    "same-pad-before": same_padding_before,
    "exit1": user_errors_exit_1,
    "swap-strides": strides_reversed,
    "mulf-matmul": matmul_as_mul_add,
    "ragged-rows": ragged_matmul_rows,
    "libm-exp": libm_exp,
    "no-peel": no_peeling,
}

if __name__ == "__main__":
    fault = sys.argv.pop(1) if len(sys.argv) > 1 else ""
    if fault not in FAULTS:
        sys.exit(f"inject_fault.py: FAULT must be one of {', '.join(FAULTS)}")
    FAULTS[fault]()
    from sepc import cli
    sys.argv[0] = "sepc"
    sys.exit(cli.main())
