"""Tables: column kinds, the reversible transform a GAN learns through, its conditional vectors, and
``csv:PATH`` / ``parquet:PATH`` as datasets (docs/tabular.md).

Importing this package registers the two table datasets in ``ganforge.data``'s registry (here and not
in ``ganforge.data``: tabular sits above ``data`` and uses it, so ``data`` may not import it back).
"""

from ganforge.tabular import table_data  # noqa: F401  (registers csv:PATH and parquet:PATH)
from ganforge.tabular.columns import ColumnSpec, describe, infer_columns
from ganforge.tabular.conditional import ConditionalSampler
from ganforge.tabular.table_io import read_table, write_table
from ganforge.tabular.transform import Span, TableTransformer

__all__ = ["ColumnSpec", "ConditionalSampler", "Span", "TableTransformer", "describe", "infer_columns",
           "read_table", "write_table"]
