"""benchmarks/sync_check.py counts host-device synchronisations, which exist only on CUDA. Without a GPU it
must refuse (exit 2, one line) rather than report "0 synchronising calls", the figure docs/benchmarks.md
quotes for a clean loop; with one, a two-step run prints that line for the preset."""

import re

import pytest
import torch


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: the measuring test runs instead")
def test_sync_check_refuses_without_cuda_instead_of_reporting_zero(benchmark_script, capsys):
    assert benchmark_script("sync_check").main(["dcgan-digits", "--steps", "1"]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == "sync_check needs a CUDA GPU" and "synchronising calls" not in out


@pytest.mark.skipif(not torch.cuda.is_available(), reason="sync_check measures CUDA synchronisations: needs a GPU")
def test_sync_check_counts_the_synchronising_calls_of_two_steps(benchmark_script, capsys):
    assert benchmark_script("sync_check").main(["dcgan-digits", "--steps", "2", "--set", "train.batch_size=8"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert re.fullmatch(r"dcgan-digits: \d+ synchronising calls in 2 steps", first), first
