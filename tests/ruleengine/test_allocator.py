"""``keep_freed_memory``: applied once on glibc, never elsewhere or when opted out (each case in a fresh
interpreter, since the setting is per process)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from tests.conftest import REPO

_GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
_PROBE = ("from ruleengine.allocator import keep_freed_memory as k; "
          "import ruleengine.allocator as a; print(k(), k(), a._applied)")


def _probe(**env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "RULEENGINE_MALLOC"} | env
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, env=environ, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.strip()


@pytest.mark.skipif(not _GLIBC, reason="mallopt is glibc's")
def test_applied_once_on_glibc() -> None:
    assert _probe() == "True True True"


def test_opted_out_with_the_environment() -> None:
    assert _probe(RULEENGINE_MALLOC="default") == "False False False"
    assert _probe(RULEENGINE_MALLOC=" Default ") == "False False False"


@pytest.mark.skipif(_GLIBC, reason="elsewhere than glibc it must do nothing")
def test_nothing_elsewhere() -> None:  # pragma: no cover - CI runs on glibc
    assert _probe() == "False False False"
