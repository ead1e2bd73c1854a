"""The command line's argument types and output-folder handling: every argument is checked
while the command line is read, before any folder is created."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Callable, Sequence


def int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value
    return parse


def float_in(text: str, ok: Callable[[float], bool], rule: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number {rule}, got {text!r}") from None
    if not ok(value):  # NaN fails every comparison, so it fails every rule
        raise argparse.ArgumentTypeError(f"must be a number {rule}, got {text}")
    return value


def positive_float(text: str) -> float:
    return float_in(text, lambda v: 0 < v < math.inf, "> 0 (finite)")


def non_negative_float(text: str) -> float:
    return float_in(text, lambda v: 0 <= v < math.inf, ">= 0 (finite)")


def rate(text: str) -> float:
    return float_in(text, lambda v: 0 <= v < 1, "in [0, 1)")


def widths(allow_empty: bool) -> Callable[[str], list[int]]:
    def parse(text: str) -> list[int]:
        rule = "comma-separated positive integers such as 128,64"
        try:
            widths = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
        if any(w < 1 for w in widths) or (not widths and not allow_empty):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return widths
    return parse


def name_in(known: Sequence[str], what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in known:
            raise argparse.ArgumentTypeError(f"unknown {what} {text!r}; known: {', '.join(known)}")
        return text
    return parse


def checked_out(text: str) -> Path:
    """``--out`` as a Path, or ValueError if it is a file or cannot be created (nothing is created)."""
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {text!r} is an existing file, not a directory")
    existing = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise ValueError(f"--out {text!r} cannot be created: {str(existing)!r} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {text!r} cannot be {'written' if existing == out else 'created'}: "
                         f"no write permission in {str(existing)!r}")
    return out


def make_dirs(out: Path) -> list[Path]:
    """Create ``out``; returns the directories it created (deepest first)."""
    created = [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--out {str(out)!r} cannot be created: {error.strerror or error}") from None
    return created


def remove_empty(created: list[Path]) -> None:
    for directory in created:  # deepest first; rmdir leaves a non-empty directory alone
        try:
            directory.rmdir()
        except OSError:
            return



class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default after its help ("off" for a flag or an unset option); the
    description and epilog keep their line breaks."""

    def _get_help_string(self, action):
        if action.required or "(default:" in action.help:
            return action.help
        if (action.default is None or action.default is False) and action.option_strings:
            return f"{action.help} (default: off)"
        return super()._get_help_string(action)
