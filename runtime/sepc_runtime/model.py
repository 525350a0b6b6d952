"""A loaded model: checks the caller's arrays, then hands their pointers to the library.

The library trusts every pointer to hold exactly the manifest's shape, so each array is
checked before the call; nothing is copied or cast behind the caller's back. A Model holds
no mutable state and ctypes releases the GIL during the call, so Python threads may call
one Model at once.
"""
from __future__ import annotations

import ctypes
from typing import Any, Mapping, Sequence

import numpy as np

from .manifest import Manifest, TensorSpec


class Model:
    def __init__(self, manifest: Manifest, entry: Any, threads: int, set_threads: Any = None):
        self.manifest = manifest
        self.name = manifest.name
        self.threads = threads
        self._entry = entry
        self._set_threads = set_threads
        self._inputs = manifest.inputs
        self._outputs = manifest.outputs
        self._dtypes = {spec.dtype: np.dtype(spec.dtype)
                        for spec in self._inputs + self._outputs}

    @property
    def inputs(self) -> list[tuple[str, tuple[int, ...], str]]:
        """(name, shape, dtype) of every input, in the order __call__ takes them."""
        return [(s.name, s.shape, s.dtype) for s in self._inputs]

    @property
    def outputs(self) -> list[tuple[str, tuple[int, ...], str]]:
        """(name, shape, dtype) of every output, in the order __call__ returns them."""
        return [(s.name, s.shape, s.dtype) for s in self._outputs]

    def __repr__(self) -> str:
        def describe(specs: Sequence[TensorSpec]) -> str:
            return ", ".join(f"{s.name}: {s.dtype}{list(s.shape)}" for s in specs)
        return (f"<sepc_runtime.Model {self.name!r} ({describe(self._inputs)}) -> "
                f"({describe(self._outputs)})>")

    def __call__(self, *arrays: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        """Runs on the inputs given in order; one output -> an array, several -> a tuple."""
        if len(arrays) != len(self._inputs):
            names = ", ".join(s.name for s in self._inputs)
            raise TypeError(f"model '{self.name}' takes {len(self._inputs)} input array(s) "
                            f"({names}), got {len(arrays)}")
        results = self._invoke(arrays, None)
        return results[0] if len(results) == 1 else tuple(results)

    def run(self, inputs: Mapping[str, np.ndarray],
            out: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Runs on inputs by name -> {output name: array}. With `out`, writes into the
        caller's arrays (one for every output) and allocates none."""
        arrays = _by_name(inputs, self._inputs, "inputs")
        out_arrays = None if out is None else _by_name(out, self._outputs, "out")
        results = self._invoke(arrays, out_arrays)
        return {spec.name: array for spec, array in zip(self._outputs, results, strict=True)}

    def bind(self, inputs: Mapping[str, np.ndarray],
             out: Mapping[str, np.ndarray]) -> BoundCall:
        """The call on these arrays, checked once: calling the result runs the model on
        their current contents, with nothing left to check or allocate (a loop over new
        data in the same buffers, a benchmark). The arrays must stay as they are: the
        bound call keeps them alive, not their shapes."""
        arrays = _by_name(inputs, self._inputs, "inputs")
        out_arrays = _by_name(out, self._outputs, "out")
        pointers = [self._checked_address("input '{}'", spec, array)
                    for spec, array in zip(self._inputs, arrays, strict=True)]
        pointers += self._checked_out_addresses(arrays, pointers, out_arrays)
        return BoundCall(self._entry, self._set_threads, self.threads, pointers,
                         [*arrays, *out_arrays])

    def _invoke(self, arrays: Sequence[Any],
                out_arrays: Sequence[Any] | None) -> list[np.ndarray]:
        pointers = [self._checked_address("input '{}'", spec, array)
                    for spec, array in zip(self._inputs, arrays, strict=True)]
        if out_arrays is None:
            out_arrays = [np.empty(s.shape, self._dtypes[s.dtype]) for s in self._outputs]
            pointers += [_address(array) for array in out_arrays]
        else:
            pointers += self._checked_out_addresses(arrays, pointers, out_arrays)
        if self._set_threads is not None:
            # Per calling thread (an OpenMP control variable of this thread): concurrent
            # callers with different counts do not interfere.
            self._set_threads(self.threads)
        self._entry(*pointers)
        return list(out_arrays)

    def _checked_address(self, role: str, spec: TensorSpec, array: Any) -> int:
        """The address of `array`'s data, once it is known to be what the library expects;
        `role` names the array in an error, with `{}` for its name."""
        if (type(array) is np.ndarray and array.shape == spec.shape
                and array.dtype == self._dtypes[spec.dtype]):
            flags = array.flags
            if flags.c_contiguous and flags.aligned:
                return _address(array)
        what = role.format(spec.name)
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{what}: expected a numpy.ndarray of {spec.dtype} with shape "
                            f"{spec.shape}, got {type(array).__name__}")
        if array.shape != spec.shape or array.dtype != self._dtypes[spec.dtype]:
            raise ValueError(f"{what}: expected {spec.dtype} of shape {spec.shape}, "
                             f"got {array.dtype} of shape {array.shape}")
        flags = array.flags
        if not flags.c_contiguous:
            raise ValueError(f"{what}: expected a C-contiguous array, got a strided view "
                             f"(numpy.ascontiguousarray makes a contiguous copy)")
        if not flags.aligned:
            raise ValueError(f"{what}: the array's data is not aligned to its {spec.dtype} "
                             f"elements")
        return _address(array)

    def _checked_out_addresses(self, arrays: Sequence[np.ndarray], addresses: list[int],
                               out_arrays: Sequence[Any]) -> list[int]:
        named = [("input", s, a, p)
                 for s, a, p in zip(self._inputs, arrays, addresses, strict=True)]
        out_addresses = []
        for spec, array in zip(self._outputs, out_arrays, strict=True):
            address = self._checked_address("output '{}' (out=)", spec, array)
            if not array.flags.writeable:
                raise ValueError(f"output '{spec.name}' (out=): the array is read-only")
            # The library may read an input after it has written an output, and writes
            # every output independently, so a buffer shared between them gives wrong
            # results. All are contiguous: sharing memory is overlapping address ranges.
            for kind, other, other_array, other_address in named:
                if (address < other_address + other_array.nbytes
                        and other_address < address + array.nbytes):
                    raise ValueError(f"output '{spec.name}' (out=): shares memory with "
                                     f"{kind} '{other.name}'")
            named.append(("output", spec, array, address))
            out_addresses.append(address)
        return out_addresses


class BoundCall:
    """Model.bind's result: one call of the library on fixed, already checked arrays."""

    def __init__(self, entry: Any, set_threads: Any, threads: int, pointers: list[int],
                 keep: list[np.ndarray]):
        self._entry, self._set_threads, self._threads = entry, set_threads, threads
        self._pointers = pointers
        self._keep = keep          # the arrays the pointers point into

    def __call__(self) -> None:
        if self._set_threads is not None:
            self._set_threads(self._threads)
        self._entry(*self._pointers)


def _address(array: np.ndarray) -> int:
    """The address of a C-contiguous array's data. ctypes.c_char.from_buffer is a fraction of
    the cost of array.ctypes.data, but takes only writable, non-empty buffers."""
    if array.flags.writeable and array.nbytes:
        # ndarray is a writable buffer; numpy declares __buffer__ only for Python >= 3.12.
        return ctypes.addressof(ctypes.c_char.from_buffer(array))  # type: ignore[arg-type]
    return array.ctypes.data


def _by_name(arrays: Any, specs: Sequence[TensorSpec], what: str) -> list[Any]:
    """The arrays of a {name: array} mapping in the model's order; names must match exactly."""
    if type(arrays) is dict and len(arrays) == len(specs):
        try:     # the common case: exactly the model's names (they are distinct)
            return [arrays[spec.name] for spec in specs]
        except KeyError:
            pass
    if not isinstance(arrays, Mapping):
        raise TypeError(f"{what}: expected a dict of arrays by name, got {type(arrays).__name__}")
    expected = [spec.name for spec in specs]
    missing = [name for name in expected if name not in arrays]
    unknown = [name for name in arrays if name not in expected]
    if missing or unknown:
        problems = ([f"missing {', '.join(map(repr, missing))}"] if missing else []) + \
                   ([f"unknown {', '.join(map(repr, unknown))}"] if unknown else [])
        raise ValueError(f"{what}: {'; '.join(problems)} (the model's are "
                         f"{', '.join(map(repr, expected))})")
    return [arrays[name] for name in expected]
