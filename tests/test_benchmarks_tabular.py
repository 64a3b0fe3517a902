"""benchmarks/tabular.py at toy size: a row per (dataset, model, seed) and the docs table of mean ± sd."""


def test_copula_and_the_copying_control_on_wine(tmp_path, benchmark_script):
    bench = benchmark_script("tabular")
    rows = [bench.measure("wine", model, seed, tmp_path / f"{model}-{seed}")
            for model in ("resample", "copula") for seed in (0, 1)]
    by = {(r["model"], r["seed"]): r for r in rows}
    assert by[("resample", 0)]["exact_copy_rate"] == 1.0 and by[("copula", 0)]["exact_copy_rate"] == 0.0
    assert by[("resample", 0)]["mia_auroc"] > by[("copula", 0)]["mia_auroc"]  # the control copies; it shows
    assert by[("copula", 0)]["rows_train"] + by[("copula", 0)]["rows_holdout"] == 178
    text = bench.table(rows)
    lines = [line for line in text.splitlines() if line.startswith("| wine")]
    assert [line.split("|")[2].strip() for line in lines] == ["resample", "copula"]
    assert all("±" in line and "| 2 |" in line for line in lines)
