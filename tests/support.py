"""Helpers shared by the tests."""

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine that lacks a tool; fail under CI=true, where nothing skips."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: missing tools fail instead of skipping)")
    pytest.skip(reason)


def require_executable(path_or_name: str, hint: str) -> str:
    """The executable's path, or skip/fail with a hint on how to install it."""
    found = shutil.which(path_or_name)
    if not found:
        skip_or_fail(f"{path_or_name} not found: {hint}")
    return found
