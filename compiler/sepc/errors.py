"""Errors that reach the user as one line on stderr (see spec/cli.md for exit codes)."""


class UserError(Exception):
    """The user's input is wrong: the CLI prints the message alone and exits 2."""

    exit_code = 2


class InternalError(Exception):
    """Something inside sepc or its toolchain failed: the CLI prints it and exits 1."""

    exit_code = 1


def where(file: str, layer: str | None = None, index: int | None = None,
          field: str | None = None) -> str:
    """The prefix that locates an error: `model.json: layer 'dw1' (#2): field 'strides'`."""
    parts = [str(file)]
    if layer is not None:
        parts.append(f"layer '{layer}'" + (f" (#{index})" if index is not None else ""))
    if field is not None:
        parts.append(f"field '{field}'")
    return ": ".join(parts)
