"""No dead code in src/ganforge: vulture (from the package index) finds none at 60% confidence or more.

Dead code misleads a reader (``PixelNorm`` and ``protocol_name`` looked like parts of ProGAN and of
the modes metric, and nothing used them), and it was found by eye before; this finds it by tool, so
it cannot come back. A name vulture cannot see used (a pickle hook, a torch switch, a counter read
by tests) goes into ``tests/vulture_whitelist.py`` with its reason. Functions registered by a
decorator are uses: the decorator stores them in a registry that the code reads by name.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("vulture")

ROOT = Path(__file__).resolve().parents[1]
WHITELIST = Path(__file__).with_name("vulture_whitelist.py")
MIN_CONFIDENCE = "60"  # below 60 vulture reports every public function a test or a user may call
DECORATORS = "@register,@register_family"  # builders, datasets, metric families: stored by name


def vulture(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vulture", *map(str, paths), "--min-confidence", MIN_CONFIDENCE,
                           "--ignore-decorators", DECORATORS], capture_output=True, text=True, timeout=300)


def test_no_dead_code_in_the_package():
    out = vulture(ROOT / "src" / "ganforge", WHITELIST)
    assert out.returncode == 0, "dead code (remove it, or whitelist a real use with its reason):\n" + out.stdout


def test_the_check_finds_an_unused_function_and_a_registered_one_is_a_use(tmp_path):
    (tmp_path / "mod.py").write_text(textwrap.dedent('''
        def register(name):
            return lambda f: f

        @register("kept")
        def builder():
            return 1

        def forgotten():
            return 2
    '''))
    out = vulture(tmp_path / "mod.py")
    assert out.returncode != 0 and "forgotten" in out.stdout and "builder" not in out.stdout
