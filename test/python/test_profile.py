"""sepc profile (docs/profile.md): one instrumented build of a small network, its rows (a
fused depthwise + 1x1 pair is one row named after both, folded batch norms listed with
their conv), FLOPs, strategies, positive times whose sum is of the order of the
uninstrumented call, the JSON keys, and one-line errors with exit code 2."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sepc.driver import emit
from sepc.frontend.model_json import load_model
from sepc.profile import (Request, kernel_members, make_rows, profile, render_json,
                          render_text)
from sepc.targets import resolve_target

SEPC = [sys.executable, "-m", "sepc"]
RUNS = 20

# A stem conv, then a depthwise conv feeding a 1x1 conv (fused into one kernel on x86),
# whose batch norm folds into it.
NETWORK = {
    "sepc": 1, "name": "tiny", "inputs": {"x": {"shape": [1, 32, 32, 16], "dtype": "float32"}},
    "layers": [
        {"name": "stem", "op": "conv2d", "input": "x", "filters": 32, "kernel_size": 3,
         "padding": "same", "activation": "relu6"},
        {"name": "dw", "op": "depthwise_conv2d", "input": "stem", "kernel_size": 3,
         "padding": "same", "activation": "relu6"},
        {"name": "pw", "op": "conv2d", "input": "dw", "filters": 64, "kernel_size": 1,
         "use_bias": False},
        {"name": "pw_bn", "op": "batch_norm", "input": "pw", "activation": "relu"},
    ],
    "outputs": ["pw_bn"],
}
PIXELS = 32 * 32
FLOPS = {"stem": 2 * PIXELS * 9 * 16 * 32, "dw+pw": 2 * PIXELS * (9 * 32 + 32 * 64)}


def write_model(folder: Path, model: dict) -> Path:
    path = folder / f"{model['name']}.json"
    path.write_text(json.dumps(model))
    return path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("profile"), NETWORK)


@pytest.fixture(scope="module")
def report(model_path):
    return profile(Request(str(model_path), "host", runs=RUNS, warmup=2, random_weights=1))


def fused_host() -> bool:
    return resolve_target("host").tiling.fuse_separable


def test_one_row_per_kernel_a_fused_pair_named_by_both_layers(report):
    if not fused_host():
        pytest.skip("the host target does not fuse separable convs")
    assert [row.name for row in report.rows] == ["stem", "dw+pw"]
    assert [row.kernel for row in report.rows] == ["stem", "pw"]
    assert [row.layers for row in report.rows] == [["stem"], ["dw", "pw", "pw_bn"]]
    assert [row.kind for row in report.rows] == ["conv2d", "separable2d"]
    assert report.untimed == []


def test_flops_are_twice_the_multiply_adds_of_the_row_layers(report):
    assert {row.name: row.flops for row in report.rows} == FLOPS


def test_strategies_are_those_emit_strategy_prints(report, model_path):
    printed = json.loads(emit(str(model_path), "strategy", "host", 1))
    for row in report.rows:
        assert row.strategies == {row.kernel: printed[row.kernel]}


def test_every_run_times_every_layer_and_the_sum_is_of_the_order_of_a_call(report):
    for row in report.rows:
        assert len(row.ns) == RUNS and all(ns > 0 for ns in row.ns), row
    assert len(report.plain_ns) == len(report.profiled_ns) == RUNS
    # The layers' spans lie inside one call of the instrumented library.
    assert all(sum(run) < call for *run, call in zip(*(row.ns for row in report.rows),
                                                     report.profiled_ns, strict=True))
    assert report.call_sum_ms <= report.instrumented_ms
    # Not a speed test: the spans cover nearly all of a call that does 14 MFLOP. (The sum
    # of per-layer medians gets a wider margin: on a busy machine layers are slow in
    # different calls.)
    assert 0.5 * report.end_to_end_ms < report.call_sum_ms < 2 * report.end_to_end_ms
    assert 0.25 * report.end_to_end_ms < report.sum_ms < 2 * report.end_to_end_ms


def test_json_report(report):
    document = json.loads(render_json(report))
    assert set(document) == {"model", "model_file", "target", "resolved_target", "threads",
                             "runs", "warmup", "peak", "layers", "untimed_layers", "sum_ms",
                             "call_sum_ms", "end_to_end_ms", "load_average",
                             "instrumented_ms", "overhead_ms", "overhead_fraction"}
    assert document["model"] == "tiny" and document["runs"] == RUNS
    assert set(document["peak"]) == {"gflops", "gflops_per_core", "cores", "source"}
    for layer in document["layers"]:
        assert set(layer) == {"name", "kernel", "kind", "layers", "flops", "ms", "gflops",
                              "share", "roofline_fraction", "strategy", "strategy_summary"}
        assert layer["ms"] > 0 and layer["gflops"] > 0
        assert layer["gflops"] == pytest.approx(layer["flops"] / layer["ms"] / 1e6)
    assert sum(layer["share"] for layer in document["layers"]) == pytest.approx(1)
    assert document["sum_ms"] == pytest.approx(sum(layer["ms"] for layer in document["layers"]))


def test_text_report_has_a_row_per_kernel_and_the_totals(report):
    text = render_text(report)
    header = next(line for line in text.splitlines() if line.lstrip().startswith("#"))
    assert header.split() == ["#", "layer", "kind", "ms", "GFLOP/s", "share", "roofline",
                              "strategy"]
    for index, row in enumerate(report.rows):
        assert any(line.split()[:2] == [str(index), row.name] for line in text.splitlines())
    for total in ("sum of layers:", "end to end:", "instrumented:", "roofline:",
                  "load average:"):
        assert total in text


def test_split_separable_pieces_in_two_kernels_are_named_apart(tmp_path):
    # 8 filters would need a panel padded to twice their count: the two halves stay two
    # kernels (fuse-separable pads a panel by at most half).
    model = {"sepc": 1, "name": "split",
             "inputs": {"x": {"shape": [1, 8, 8, 8], "dtype": "float32"}},
             "layers": [{"name": "sep", "op": "separable_conv2d", "input": "x", "filters": 8,
                         "kernel_size": 3, "padding": "same"},
                        {"name": "act", "op": "activation", "input": "sep",
                         "activation": "relu"}],
             "outputs": ["act"]}
    graph = load_model(str(write_model(tmp_path, model)), 0)
    members = kernel_members(graph, resolve_target("x86-avx512"))
    rows, untimed = make_rows(graph, list(members), members, {})
    assert [row.name for row in rows] == ["sep/depthwise", "sep/pointwise"]
    # the activation fuses into the piece that writes the layer's value
    assert [row.layers for row in rows] == [["sep"], ["sep", "act"]]
    assert [row.flops for row in rows] == [2 * 64 * 8 * 9, 2 * 64 * 8 * 8]
    assert untimed == []


def test_cli_json_with_two_threads(model_path):
    if not resolve_target("host").openmp:
        pytest.skip("the host target builds single-threaded libraries")
    done = subprocess.run([*SEPC, "profile", str(model_path), "--target", "host", "--threads",
                           "2", "--runs", "5", "--warmup", "1", "--random-weights", "1",
                           "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["threads"] == 2 and document["peak"]["cores"] in (1, 2)
    assert [layer["flops"] for layer in document["layers"]] == list(FLOPS.values())


@pytest.mark.parametrize("args, fragment", [
    (["missing.json", "--target", "host"], "missing.json: file does not exist"),
    (["MODEL", "--target", "bogus"], "unknown target 'bogus'"),
    (["MODEL", "--target", "arm-neon"], "qemu"),
    (["MODEL", "--target", "host", "--runs", "0"], "--runs"),
    (["MODEL", "--target", "host", "--threads", "0"], "--threads"),
])
def test_bad_input_exits_2_with_one_line(model_path, tmp_path, args, fragment):
    args = [str(model_path) if a == "MODEL" else a for a in args]
    done = subprocess.run([*SEPC, "profile", *args, "--random-weights", "1"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert fragment in message, message
