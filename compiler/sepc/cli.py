"""The `sepc` command line (spec/cli.md): compile, run, and opt for pass-level tests; profile
(docs/cli.md, an extension)."""
from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from .errors import InternalError, UserError


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors as UserError (exit 2, one line) like all input errors."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"sepc: {message} (see 'sepc {self.prog.split()[-1]} --help')")


def parser() -> argparse.ArgumentParser:
    from .driver import EMIT_STAGES, SCHEDULES
    from .profile import DEFAULT_RUNS, DEFAULT_WARMUP
    top = ArgumentParser(prog="sepc",
                         description="A compiler for depthwise-separable conv networks.")
    sub = top.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    c = sub.add_parser("compile", help="compile model.json into NAME.so, NAME.h and NAME.json")
    c.add_argument("model")
    c.add_argument("--target", required=True, help="host, x86-avx2, x86-avx512, arm-neon, arm-sve")
    c.add_argument("-o", dest="out_dir", default="build")
    c.add_argument("--emit", choices=EMIT_STAGES, help="print this stage to stdout instead")
    c.add_argument("--random-weights", type=int, metavar="SEED")
    c.add_argument("--schedule", default="auto", choices=SCHEDULES,
                   help="'none' lowers without tiling or vectorization (a baseline)")
    c.add_argument("--threads", type=int, default=1, metavar="N",
                   help="threads one call uses by default (x86 targets; the runtime can change it)")
    c.add_argument("--strategy", default="", metavar="FILE",
                   help="a JSON strategy file whose decisions override the cost model's "
                        "(the format --emit strategy prints)")
    c.add_argument("--emit-lib", default="shared", metavar="KINDS",
                   help="libraries to write, comma-separated: shared (NAME.so, always written) "
                        "and static (NAME.a too, for linking into an application)")

    r = sub.add_parser("run", help="run a compiled model on .npy inputs")
    r.add_argument("manifest")
    r.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy")
    r.add_argument("--output-dir", default=".")
    r.add_argument("--sve-vl", type=int, metavar="BITS")

    i = sub.add_parser("import",
                       help="convert a Keras, ONNX or PyTorch model into model.json + .npz")
    i.add_argument("source", metavar="MODEL",
                   help="a .keras or .onnx file; for torch, "
                        "MODULE:CALLABLE returning (model, example_input)")
    i.add_argument("--format", required=True, choices=("keras", "onnx", "torch"))
    i.add_argument("-o", dest="out_dir", default=".")
    i.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0,D1,...",
                   help="an input's shape in the model's own axis order (its unknown "
                        "dimensions; repeat per input)")
    i.add_argument("--batch", type=int, metavar="N",
                   help="every input's batch dimension (default: the model's, 1 if unknown)")
    i.add_argument("--name", help="the model's name (NAME.json, NAME.npz and the C symbols; "
                                  "default: the framework model's name)")

    p = sub.add_parser("profile", help="time every layer of the compiled model on this machine "
                                       "(docs/profile.md)")
    p.add_argument("model")
    p.add_argument("--target", required=True, help="host, or a row of this machine's architecture")
    p.add_argument("--threads", type=int, default=1, metavar="N")
    p.add_argument("--runs", type=int, default=DEFAULT_RUNS, metavar="N",
                   help="timed calls of each build (the median is reported)")
    p.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, metavar="N",
                   help="untimed calls of each build first")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--random-weights", type=int, metavar="SEED")
    p.add_argument("--strategy", default="", metavar="FILE",
                   help="a strategy file, as for sepc compile")

    t = sub.add_parser("tune", help="time candidate strategies of each kernel on this machine "
                                    "and write the fastest as a strategy file (docs/tune.md)")
    t.add_argument("model")
    t.add_argument("--target", required=True, help="host, x86-avx2, x86-avx512 (this CPU's)")
    t.add_argument("-o", dest="out", required=True, metavar="FILE",
                   help="the strategy file to write (for sepc compile --strategy)")
    t.add_argument("--threads", type=int, default=1, metavar="N",
                   help="threads the kernels are built and timed with")
    t.add_argument("--budget-s", type=float, default=600.0, metavar="S",
                   help="seconds the whole run may take (largest kernels first)")
    t.add_argument("--cache", metavar="FILE",
                   help="the tuning cache (default ~/.cache/sepc/tune.json)")
    t.add_argument("--random-weights", type=int, metavar="SEED")

    o = sub.add_parser("opt", help="run sepc passes and upstream pipelines on a .mlir file")
    o.add_argument("file")
    o.add_argument("--passes", action="append", default=[], type=lambda text: ("sepc", text),
                   dest="steps", metavar="PASSES",
                   help="comma-separated sepc passes with options, e.g. "
                        "'fuse-separable{panel-filters=16},lower-to-linalg'")
    o.add_argument("--pass-pipeline", action="append", type=lambda text: ("mlir", text),
                   dest="steps", metavar="PIPELINE",
                   help="an upstream MLIR pass pipeline, e.g. 'builtin.module(canonicalize)'; "
                        "steps run in the order given")
    o.add_argument("--list-passes", action="store_true", help="list sepc's passes and options")
    return top


def command_compile(args: argparse.Namespace) -> None:
    from .driver import compile_file, emit
    if args.emit:
        sys.stdout.write(emit(args.model, args.emit, args.target, args.random_weights,
                              args.schedule, args.strategy))
    else:
        kinds = tuple(k.strip() for k in args.emit_lib.split(",") if k.strip())
        compile_file(args.model, args.target, args.out_dir, args.random_weights, args.schedule,
                     args.threads, kinds, args.strategy)


def parse_inputs(pairs: list[str]) -> dict[str, str]:
    inputs = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise UserError(f"sepc run: --input '{pair}': expected NAME=FILE.npy")
        if name in inputs:
            raise UserError(f"sepc run: --input '{name}' given twice")
        inputs[name] = path
    return inputs


def command_run(args: argparse.Namespace) -> None:
    from .run import run_manifest
    run_manifest(args.manifest, parse_inputs(args.input), args.output_dir, args.sve_vl)


def command_profile(args: argparse.Namespace) -> None:
    from .profile import Request, run
    sys.stdout.write(run(Request(args.model, args.target, args.threads, args.runs, args.warmup,
                                 args.random_weights, args.strategy), args.json))


def command_opt(args: argparse.Namespace) -> None:
    from .passes import all_passes
    if args.list_passes:
        for declared in all_passes().values():
            options = " ".join(f"{o.name}={o.default!r}" for o in declared.options)
            print(f"{declared.name}{{{options}}}: {declared.summary}" if options
                  else f"{declared.name}: {declared.summary}")
        return
    if not args.steps:
        raise UserError("sepc opt: give --passes or --pass-pipeline (or --list-passes)")
    sys.stdout.write(optimize(args.file, args.steps))


def optimize(path: str, steps: list[tuple[str, str]]) -> str:
    """The module in `path` after each step: ("sepc", passes) or ("mlir", pipeline)."""
    from mlir import ir
    from mlir.passmanager import PassManager

    from .dialects import make_context
    from .passes import parse_pipeline, run_passes
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror}") from None
    with make_context():
        try:
            # each step: sepc's passes, parsed, or an upstream pipeline's text
            specs = [parse_pipeline(what) if kind == "sepc" else what for kind, what in steps]
        except UserError as e:
            raise UserError(f"sepc opt: --passes: {e}") from None
        try:
            module = ir.Module.parse(text)
        # ir.MLIRError is attached by mlir._mlir_libs as it loads; the stubs do not list it.
        except ir.MLIRError as e:  # type: ignore[attr-defined]
            raise UserError(f"{path}: invalid IR: {e}") from None
        for spec in specs:
            if not isinstance(spec, str):
                run_passes(module, spec)
                continue
            try:
                pm = PassManager.parse(spec)
            except ValueError as e:
                raise UserError(f"--pass-pipeline {spec!r}: {e}") from None
            pm.run(module.operation)
        return str(module)


def command_tune(args: argparse.Namespace) -> None:
    from .tune import Options, command
    command(args.model, args.out, Options(args.target, args.threads, args.budget_s, args.cache,
                                          args.random_weights))


def command_import(args: argparse.Namespace) -> None:
    from .importers import import_model
    print(import_model(args.source, args.format, args.out_dir, args.name,
                       parse_input_shapes(args.input_shape), args.batch))


def parse_input_shapes(flags: list[str]) -> dict[str, list[int]]:
    shapes = {}
    for flag in flags:
        name, _, dims = flag.partition("=")
        try:
            shape = [int(d) for d in dims.split(",")]
        except ValueError:
            shape = []
        if not name or not shape or min(shape) < 1:
            raise UserError(f"--input-shape {flag}: expected NAME=D0,D1,... with positive "
                            "integers, e.g. input_1=1,224,224,3")
        shapes[name] = shape
    return shapes


COMMANDS = {"compile": command_compile, "run": command_run, "opt": command_opt,
            "import": command_import, "profile": command_profile, "tune": command_tune}


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        COMMANDS[args.command](args)
    except UserError as e:
        print(str(e), file=sys.stderr)
        return 2
    except InternalError as e:
        print(f"sepc: internal error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sepc: interrupted", file=sys.stderr)
        return 1
    except Exception as e:  # a bug in sepc: say what failed and where, still no traceback
        if os.environ.get("SEPC_DEBUG"):
            raise
        print(f"sepc: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
