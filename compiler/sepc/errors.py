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
        parts.append(f"layer '{printable(layer)}'" + (f" (#{index})" if index is not None else ""))
    if field is not None:
        parts.append(f"field '{printable(field)}'")
    return ": ".join(parts)


def printable(name: str) -> str:
    """A name from the user's file with its control characters escaped (an input named
    "\\n"), so that the message naming it stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
