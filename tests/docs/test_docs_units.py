"""Every schedule states its unit (steps, images, updates, epochs): docs/architecture.md's "Units of
schedules" table names each schedule-like key of the config, and a preset that sets a per-step constant
(``ema.beta``) says that it is per step beside it. The EMA's per-step beta meant different averages at
different batch sizes without saying so; no schedule may be silent about its unit again."""

from __future__ import annotations

import dataclasses
import re

from doclib import ROOT, section

from ganforge.config import RunConfig

SCHEDULE = re.compile(r"(every|_images|steps|_epochs|interval|kimg|rampup|start|warmup|lr_decay|half_life\w*)$")
PRESETS = ROOT / "src" / "ganforge" / "presets"


def _keys(obj, prefix: str = "") -> list[str]:
    found = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        found += _keys(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value) else [prefix + f.name]
    return found


def stated(key: str, table: str) -> bool:
    """Whether the units table names ``key``, itself or through a ``section.*suffix`` pattern."""
    for name in re.findall(r"`([\w.*]+)`", table):
        pattern = "^" + re.escape(name).replace(r"\*", r"[\w.]*") + "$"
        if re.match(pattern, key) or ("." not in name and key.endswith("." + name)):
            return True
    return False


def test_every_schedule_key_has_its_unit_in_architecture_md():
    table = section((ROOT / "docs" / "architecture.md").read_text(), "Units of schedules")
    keys = [k for k in _keys(RunConfig()) if SCHEDULE.search(k.rsplit(".", 1)[-1])]
    assert len(keys) > 15
    missing = [k for k in keys if not stated(k, table)]
    assert not missing, f"schedule keys whose unit docs/architecture.md does not state: {missing}"


def test_the_unit_check_reads_patterns_and_misses_what_is_absent():
    table = "| `log.*every`, `ema.half_life_images` | steps |"
    assert stated("log.sample_every", table) and stated("ema.half_life_images", table)
    assert not stated("growth.fade_images", table)


def test_a_preset_with_a_per_step_beta_says_so():
    silent = []
    for path in sorted(PRESETS.glob("*.yaml")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if re.search(r"\bbeta: *0\.\d", line) or re.search(r"ema: *\{[^}]*\bbeta:", line):
                near = " ".join(lines[max(0, i - 1):i + 1])
                if "per step" not in near and "per G step" not in near:
                    silent.append(f"{path.name}:{i + 1}")
    assert not silent, f"ema.beta set without saying it is per step: {silent}"
