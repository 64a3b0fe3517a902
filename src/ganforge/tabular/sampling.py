"""A trained table model: rows from G in eval mode, decoded back into the table's own columns.

Sampling draws three things, each from the seed, so the same seed writes the same CSV byte for
byte: the conditional vectors (unconditionally, a discrete column uniformly and one of its
categories by its real frequency, as CTGAN's sampling does; with ``--condition col=value``, that
category for every row: conditional sampling through the vector G was trained on, never
rejection; the asked column is written as the asked value, since it is given, and every other
column comes from G conditioned on it), z with the Gumbel noise of the one-hot outputs (a torch
generator), and the draws of the inverse transform (a numpy generator). G runs in eval mode
throughout, so batch norm uses its running statistics and a row never depends on the other rows
of its batch.

Also here: the quick column-shapes figure the recipe logs while training, and the preview
picture of real against generated marginals.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ganforge import memory, outputs
from ganforge.data.base import LoadRequest
from ganforge.data.registry import _lookup, _names
from ganforge.errors import ConfigError, DataError
from ganforge.plotting import pyplot
from ganforge.run_layout import OPTIONS
from ganforge.sampling import sample_generator
from ganforge.tabular.report.tables import check_overlap
from ganforge.tabular.table_data import fingerprint_table
from ganforge.tabular.table_io import MIN_ROWS, iter_table, read_table, write_table_chunks
from ganforge.tabular.transform import TableTransformer

CHUNK = 1000  # rows per forward pass of G when sampling (memory holds one chunk of G's activations)
TABLE_CHUNK = 100 * CHUNK  # rows inverted and written at a time (a multiple of CHUNK: G's chunks fill it exactly)
INVERSE_SEED_OFFSET = 1  # the inverse transform's numpy stream is seed + this (z and conditions use the seed)
ID_SEED_OFFSET = 1  # ... and the regenerated IDs' streams are seeded from seed + INVERSE_SEED_OFFSET + this
TEXT_VALUE_BYTES = 64  # about what one short Python string in a pandas object column costs
CSV_PROBE_ROWS = 200  # rows written to measure a CSV row's size before ``sample --out x.csv`` checks the disk
PREVIEW_COLUMNS = 6  # marginals shown in a training preview picture


def parse_condition(text: str) -> tuple[str, str]:
    """``col=value`` -> (col, value); one line when there is no '='."""
    column, sep, value = text.partition("=")
    if not sep or not column:
        raise ConfigError(f"--condition takes COLUMN=VALUE (e.g. --condition income=>50K), got {text!r}")
    return column, value


class TableModel:
    """G over a table's record (transform, spans, conditioned columns and their categories' counts)."""

    def __init__(self, nets: dict[str, nn.Module], record: dict[str, Any], *, z_dim: int):
        self.nets, self.record, self.z_dim = nets, record, z_dim
        self.transformer = TableTransformer.from_state_dict(record["transformer"])
        self.blocks = [tuple(b) for b in record["cond_blocks"]]
        self.columns = list(record["cond_columns"])
        self.counts = [np.asarray(c, dtype=np.float64) for c in record["category_counts"]]

    @property
    def generator(self) -> nn.Module:
        return self.nets["G"]

    @property
    def cond_dim(self) -> int:
        return int(self.record["cond_dim"])

    def condition_vector(self, column: str, value: str) -> np.ndarray:
        """The one conditional vector asking for ``column == value``; one line naming the valid choices."""
        if column not in self.columns:
            which = ", ".join(self.columns) or "none (this table has no categorical column)"
            raise ConfigError(f"--condition: '{column}' is not a categorical column of this run; conditions can "
                              f"name {which}")
        try:
            slot = self.transformer.category_slot(column, value)
        except ConfigError as e:
            raise ConfigError(f"--condition: {e}") from None
        cond = np.zeros(self.cond_dim, np.float32)
        cond[self._cond_offset(column) + slot] = 1.0
        return cond

    def _cond_offset(self, column: str) -> int:
        """Where ``column``'s block starts in the conditional vector."""
        return sum(w for _, w in self.blocks[:self.columns.index(column)])

    def conditions(self, n: int, rng: np.random.Generator, condition: tuple[str, str] | None = None) -> np.ndarray:
        """(n, cond_dim): the asked-for category on every row, or a column uniformly and a category of it by
        its real frequency per row."""
        if condition is not None:
            return np.repeat(self.condition_vector(*condition)[None], n, axis=0)
        cond = np.zeros((n, self.cond_dim), np.float32)
        if not self.blocks:
            return cond
        picked = rng.integers(0, len(self.blocks), n)
        offsets = np.cumsum([0] + [w for _, w in self.blocks])
        for k in range(len(self.blocks)):
            rows = np.flatnonzero(picked == k)
            p = self.counts[k] / self.counts[k].sum()
            cond[rows, offsets[k] + rng.choice(len(p), size=len(rows), p=p)] = 1.0
        return cond

    @torch.no_grad()
    def sample_chunks(self, n: int, *, seed: int = 0, device: str | torch.device = "cpu", batch_size: int = CHUNK,
                      condition: tuple[str, str] | None = None) -> Iterator[tuple[np.ndarray, None]]:
        """Transformed rows (float32, the training data's form), ``batch_size`` at a time, G in eval mode."""
        G = self.generator
        was_training = G.training
        G.eval()
        gen = sample_generator(seed, device)
        rng = np.random.default_rng(seed)
        try:
            for start in range(0, n, batch_size):
                m = min(batch_size, n - start)
                cond = torch.as_tensor(self.conditions(m, rng, condition), device=device)
                z = torch.randn(m, self.z_dim, device=device, generator=gen)
                rows = G.activate(G.logits(torch.cat([z, cond], dim=1)), generator=gen).float().cpu().numpy()
                if condition is not None:  # the asked column is the asked value; G gives the rest, conditioned on it
                    start, width = self.blocks[self.columns.index(condition[0])]
                    at = self._cond_offset(condition[0])
                    rows[:, start:start + width] = cond[:, at:at + width].cpu().numpy()
                yield rows, None
        finally:
            G.train(was_training)

    def sample_table_chunks(self, n: int, *, seed: int = 0, device: str | torch.device = "cpu",
                            condition: tuple[str, str] | None = None) -> Iterator[pd.DataFrame]:
        """``n`` rows in the table's own columns, order and types, ``TABLE_CHUNK`` rows at a time.

        Memory holds one chunk, not the whole output (a million rows of 323 floats were 1.3 GB before
        the inverse); the ID columns are drawn a block at a time from their own stream, unique over the
        whole output (:meth:`TableTransformer.new_ids`), so they too hold one block, not ``n`` values.
        """
        rng = np.random.default_rng(seed + INVERSE_SEED_OFFSET)
        ids = self.transformer.new_ids(n, seed + INVERSE_SEED_OFFSET + ID_SEED_OFFSET)
        rows = self.sample_chunks(n, seed=seed, device=device, condition=condition)
        for start in range(0, n, TABLE_CHUNK):
            m = min(TABLE_CHUNK, n - start)
            x = np.concatenate([next(rows)[0] for _ in range(-(-m // CHUNK))])
            yield self.transformer.inverse(x, rng=rng, ids=ids.rows(start, m))

    def row_bytes(self) -> int:
        """About the bytes one sampled row holds in memory as a table (pandas objects for text and categories,
        8 bytes for numbers) and once encoded for the measures of ``audit`` and ``downstream``."""
        specs = self.transformer.specs
        table = sum(8 if s.kind in ("numeric", "datetime") else 8 + TEXT_VALUE_BYTES for s in specs)
        return table + 8 * (self.transformer.output_dim + len(specs)) + 4 * self.transformer.output_dim

    def sample_table(self, n: int, *, seed: int = 0, device: str | torch.device = "cpu",
                     condition: tuple[str, str] | None = None) -> pd.DataFrame:
        """``n`` rows in the table's own columns, order and types (the chunks of :meth:`sample_table_chunks`)."""
        return pd.concat(list(self.sample_table_chunks(n, seed=seed, device=device, condition=condition)),
                         ignore_index=True)


def write_table_samples(opened: Any, args: Any, out: Path) -> int:
    """``ganforge sample`` for a table run: ``--n`` rows (``--condition`` by the conditional vector) into
    ``--out`` (.csv, or .parquet with the [parquet] extra), written whole or not at all (ganforge.outputs)."""
    unused = [flag for flag, value in (("--class", args.classes), ("--truncation", args.truncation),
                                       ("--truncation-centres", args.truncation_centres),
                                       ("--mix-seed", args.mix_seed), ("--mix-layer", args.mix_layer),
                                       ("--grid", args.grid)) if value is not None]
    if unused:
        raise ConfigError(f"{unused[0]} does not apply to a table run (recipe tabular), which draws rows; drop it "
                          f"(--condition COL=VALUE picks a category)")
    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise ConfigError(f"--out {out}: a table run writes rows as .csv or .parquet; name the output e.g. "
                          f"synthetic.csv")
    condition = parse_condition(args.condition) if args.condition is not None else None
    model = opened.model
    if condition is not None:
        model.condition_vector(*condition)  # a bad column or value is refused before any work
    check_table_output(model, args.n, out, seed=args.seed, device=opened.device, condition=condition)
    chunks = model.sample_table_chunks(args.n, seed=args.seed, device=opened.device, condition=condition)
    write_table_chunks(chunks, out, force=args.force)
    asked = f", {condition[0]}={condition[1]}" if condition else ""
    print(f"{out}: {args.n} rows x {len(model.transformer.specs)} columns from step {opened.step}{asked}")
    return 0


def check_table_output(model: TableModel, n: int, out: Path, *, seed: int = 0, device: str | torch.device = "cpu",
                       condition: tuple[str, str] | None = None, free: int | None = None,
                       available: int | None = None) -> None:
    """One line before any row is written when ``n`` rows will not fit: a CSV streams chunk by chunk, so its
    size (measured on a few rows drawn with the same seed) is checked against the free disk space, as
    ``sample`` checks an .npy; a Parquet file is gathered whole first, so its rows are checked against the
    memory available as well (``free`` and ``available`` override the measured figures, for tests)."""
    if out.suffix.lower() != ".csv":
        memory.check_memory(n, model.row_bytes(), flag="--n", available=available)
    probe = model.sample_table(min(n, CSV_PROBE_ROWS), seed=seed, device=device, condition=condition)
    header, body = len(probe.head(0).to_csv(index=False).encode()), len(probe.to_csv(index=False).encode())
    per_row = (body - header) / max(len(probe), 1)
    outputs.check_space(out, int(header + per_row * n * 1.1), flag="--out", free=free)


def table_path(name: str, flag: str) -> str:
    """The file of a ``csv:PATH`` / ``parquet:PATH`` data name; one line for anything else."""
    kind, sep, path = str(name).partition(":")
    if not sep or kind not in ("csv", "parquet") or not path:
        raise ConfigError(f"{flag} {name}: a table run's real rows are a table file; give csv:PATH or parquet:PATH")
    return path


def check_fingerprint(opened: Any) -> None:
    """One line when the run's table file no longer holds the rows the run trained on: the table is loaded as
    training loaded it (``csv:PATH`` with the run's data options, its transformed rows cached in the data
    directory) and its fingerprint compared with the one ``options.json`` recorded, as the image audit does
    (:func:`ganforge.synthetic.sources.training_data`). A run that recorded none (older runs) is not checked."""
    try:
        recorded = (json.loads((Path(opened.path) / OPTIONS).read_text()).get("data") or {}).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if not recorded:
        return
    d = opened.config.data
    _, name, path = _lookup(d.name)  # the request load_dataset makes, as training made it (run_data_options)
    req = LoadRequest(name=name, path=path, seed=opened.config.seed, discrete=_names(d.discrete), target=d.target,
                      ids=_names(d.ids))
    with contextlib.redirect_stdout(io.StringIO()):  # loading prints the table's columns, as training did
        found = fingerprint_table(req, d.limit)
    if found != recorded:
        raise DataError(f"the table loaded as {d.name} differs from the one {opened.path} was trained on "
                        f"(fingerprint mismatch); restore the original file (a holdout and the measures need the "
                        f"rows the run saw)")


def read_holdout(holdout: str, text: dict | None = None) -> pd.DataFrame:
    """``--holdout-data csv:PATH`` read as a table, its problems said about --holdout-data (not data.name);
    ``text``: columns read as text (as training read them)."""
    path = table_path(holdout, "--holdout-data")
    if not Path(path).is_file():
        raise DataError(f"--holdout-data {holdout}: {path} does not exist (or is not a file); check the path "
                        f"given to --holdout-data")
    chunks = list(iter_table(path, dtype=text if path.lower().endswith(".csv") and text else None))
    held = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    if len(held) < MIN_ROWS:
        raise DataError(f"--holdout-data {holdout} has {len(held)} row{'s' * (len(held) != 1)}; a holdout needs at "
                        f"least {MIN_ROWS} rows, and far more for a membership AUROC worth reading")
    return held


def run_tables(opened: Any, holdout: str | None, n: int | None, seed: int) -> dict[str, Any]:
    """What ``ganforge audit`` and ``downstream`` measure a table run on: its training table (as read from
    the file it trained on), ``n`` rows sampled with ``seed`` (None: as many as the training table has), the
    held-out table (``csv:PATH``, or None) and every column's kind as training inferred it."""
    model = opened.model
    kinds = {c["name"]: c["kind"] for c in model.record["columns"]}
    text = {c["name"]: str for c in model.record["columns"]  # text as training read it (codes such as 007)
            if not pd.api.types.is_numeric_dtype(c["dtype"]) and not c["dtype"].startswith(("bool", "datetime"))}
    real_path = table_path(opened.config.data.name, "the run's data.name")
    real = read_table(real_path, dtype=text if real_path.lower().endswith(".csv") else None)
    if list(real.columns) != list(kinds):
        raise ConfigError(f"the run's table {opened.config.data.name} no longer has the columns it was trained on; "
                          f"restore the file the run trained on")
    n = len(real) if n is None else n
    memory.check_memory(n, model.row_bytes(), flag="--n")  # the rows are held, and encoded, whole
    check_fingerprint(opened)
    held = read_holdout(holdout, text) if holdout is not None else None
    if held is not None and list(held.columns) != list(kinds):
        raise ConfigError(f"--holdout-data {holdout} has columns {', '.join(map(str, held.columns))}; the run's "
                          f"table has {', '.join(kinds)}")
    if held is not None:
        check_overlap(held, real, kinds, flag=f"--holdout-data {holdout}", real_name=opened.config.data.name)
    return {"real": real, "synthetic": model.sample_table(n, seed=seed, device=opened.device), "holdout": held,
            "kinds": kinds}


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA else str(value)


def _kinds(columns: Any, df: pd.DataFrame) -> dict[str, str]:
    """Column name -> kind, from the recorded specs (dicts with name/kind) or, without them, from dtypes."""
    if columns:
        return {c["name"]: c["kind"] for c in columns}
    return {c: "numeric" if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
            else "categorical" for c in df.columns}


def _numeric(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dropna().astype("int64").to_numpy(dtype=np.float64)
    return pd.to_numeric(s, errors="coerce").dropna().to_numpy(dtype=np.float64)


def ks_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """1 - the two-sample Kolmogorov-Smirnov statistic (nulls dropped): 1 when the distributions match."""
    a, b = np.sort(_numeric(real)), np.sort(_numeric(synthetic))
    if not len(a) or not len(b):
        return float(len(a) == len(b))
    grid = np.concatenate([a, b])
    gap = np.abs(np.searchsorted(a, grid, side="right") / len(a) - np.searchsorted(b, grid, side="right") / len(b))
    return float(1.0 - gap.max())


def tv_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """1 - the total variation distance of the category frequencies (null is a category of its own)."""
    p = real.map(_text).value_counts(normalize=True)
    q = synthetic.map(_text).value_counts(normalize=True)
    return float(1.0 - 0.5 * p.sub(q, fill_value=0.0).abs().sum())


def column_shapes(real: pd.DataFrame, synthetic: pd.DataFrame, columns: Any = None) -> float:
    """Mean over the learned columns of the KS complement (numeric, datetime) or TV complement (others);
    ID-like columns are not learned and not scored."""
    kinds = _kinds(columns, real)
    scores = [ks_complement(real[c], synthetic[c]) if kinds.get(c) in ("numeric", "datetime")
              else tv_complement(real[c], synthetic[c]) for c in real.columns if kinds.get(c) != "id"]
    return float(np.mean(scores)) if scores else float("nan")


@contextlib.contextmanager
def quiet_missing_glyphs() -> Iterator[None]:
    """matplotlib's "Glyph N (...) missing from font(s)" UserWarnings silenced while a figure is drawn. A column
    name or category in a script the font lacks (CJK with DejaVu Sans) is drawn as boxes, which is all the warning
    says, but it prints two lines per character with a source line on stderr, on a run or report that succeeded
    (docs/errors.md: stderr carries one line, for a problem). Only these warnings: any other still shows."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def save_table_preview(real: pd.DataFrame, synthetic: pd.DataFrame, path: str | Path, *, title: str,
                       columns: Any = None) -> Path:
    """The first few learned columns' real and generated marginals side by side (histograms or bar charts).
    pyplot is imported on first use (:mod:`ganforge.plotting`): every ganforge command imports this module."""
    plt = pyplot()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kinds = _kinds(columns, real)
    cols = [c for c in real.columns if kinds.get(c) != "id"][:PREVIEW_COLUMNS]
    fig, axes = plt.subplots(1, max(len(cols), 1), figsize=(3 * max(len(cols), 1), 2.6), squeeze=False)
    for ax, c in zip(axes[0], cols):
        a, b = _numeric(real[c]), _numeric(synthetic[c])
        if pd.api.types.is_numeric_dtype(real[c]) and not pd.api.types.is_bool_dtype(real[c]) and len(a) and len(b):
            bins = np.histogram_bin_edges(np.concatenate([a, b]), bins=20)
            ax.hist(a, bins=bins, alpha=0.5, density=True, label="real")
            ax.hist(b, bins=bins, alpha=0.5, density=True, label="generated")
        else:
            p = real[c].map(_text).value_counts(normalize=True).head(8)
            q = synthetic[c].map(_text).value_counts(normalize=True).reindex(p.index, fill_value=0.0)
            x = np.arange(len(p))
            ax.bar(x - 0.2, p.to_numpy(), 0.4, label="real")
            ax.bar(x + 0.2, q.to_numpy(), 0.4, label="generated")
            ax.set_xticks(x, [s[:8] for s in p.index], rotation=45, fontsize=7)
        ax.set_title(str(c)[:20], fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    with quiet_missing_glyphs():  # drawing happens here, and the glyphs are looked up then
        fig.tight_layout()
        fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


__all__ = ["TableModel", "check_table_output", "column_shapes", "ks_complement", "parse_condition", "quiet_missing_glyphs", "run_tables",
           "save_table_preview",
           "table_path", "tv_complement", "write_table_samples"]
