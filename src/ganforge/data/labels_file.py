"""``ganforge dataset --labels FILE.json``: one class per image, from a file the user wrote.

Its own module because a hand-written file is where labels go wrong: an index typed as a name, a negative
index, indices mixed with names (which, read as names, would be renumbered as sorted text), a typo of a
billion. Each is refused in one line naming the entry, before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ganforge.data.sources import Item
from ganforge.errors import DataError

MAX_CLASS_INDEX = 100_000  # a labels file's largest index: ImageNet-21k has 21,841 classes; 10**9 would be a typo


class _Repeated(ValueError):
    """A key given twice in one JSON object (``json`` would keep the last one silently)."""


def _no_repeats(pairs: list[tuple[str, object]]) -> dict:
    table = {}
    for key, value in pairs:
        if key in table:
            raise _Repeated(key)
        table[key] = value
    return table


def read_labels_file(items: Sequence[Item], path: Path,
                     listed: Sequence[Item] = ()) -> tuple[list[int], list[str], bool]:
    """The label of each of ``items`` (the usable images), the class names, and whether the labels are names
    (else indices), from a JSON file mapping each image's path in the source to a class (a name or an integer),
    or stylegan2-ada's ``{"labels": [[path, int], ...]}``. A path given twice is refused, naming it: which of
    two labels the user meant is not ours to guess. Indices are kept as they are (class k is k), their number
    being one above the largest the file gives a file of ``listed`` (every file of the source)."""
    try:
        table = json.loads(path.read_text(), object_pairs_hook=_no_repeats)
    except _Repeated as exc:
        raise DataError(f"the labels file {path} gives {_shown(exc.args[0])} twice; keep one entry for it") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the labels file {path} ({exc}); give a JSON object "
                        f"{{\"path/in/source.png\": label, ...}}") from None
    if isinstance(table, dict) and isinstance(table.get("labels"), list):
        pairs, first = {}, {}
        for k, entry in enumerate(table["labels"]):
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
                raise DataError(f'{path}: entry {k} of "labels" must be [path, label], got {_shown(entry)}; '
                                "fix that entry")
            if entry[0] in pairs:
                raise DataError(f'{path}: {_shown(entry[0])} is in "labels" twice (entries {first[entry[0]]} and '
                                f"{k}); keep one entry for it")
            pairs[entry[0]], first[entry[0]] = entry[1], k
        table = pairs
    if not isinstance(table, dict):
        raise DataError(f"the labels file {path} must hold a JSON object {{\"path/in/source.png\": label, ...}}")
    missing = [i.name for i in items if i.name not in table]
    if missing:
        raise DataError(f"the labels file {path} has no label for {len(missing)} image(s), e.g. {missing[0]}; "
                        "add them or remove those images")
    values = [_label_value(table[i.name], i.name, path) for i in items]
    index_of = next((i.name for i, v in zip(items, values) if isinstance(v, int)), None)
    name_of = next((i.name for i, v in zip(items, values) if isinstance(v, str)), None)
    if index_of is not None and name_of is not None:  # as names, the indices would be renumbered as sorted text
        raise DataError(f"{path} mixes class indices and class names ({index_of} is {_shown(table[index_of])}, "
                        f"{name_of} is {_shown(table[name_of])}); give every label as an index (an integer) "
                        "or every label as a name (a string)")
    if index_of is not None:  # indices are kept as they are: class k is k
        others = [table[i.name] for i in listed if i.name in table]  # a skipped file's class is still class k
        top = max(values + [v for v in others if isinstance(v, int) and not isinstance(v, bool)
                            and 0 <= v <= MAX_CLASS_INDEX])
        if top > MAX_CLASS_INDEX:  # classes 0..top would each get a name (and a slot in every class table)
            where = next(i.name for i, v in zip(items, values) if v == top)
            raise DataError(f"{path}: the label of {where} is {top}, above the largest class index ganforge takes "
                            f"({MAX_CLASS_INDEX:,}); number the classes 0..K-1, or give them as names (strings)")
        return values, [str(c) for c in range(top + 1)], False
    classes = sorted(set(values))
    index = {c: k for k, c in enumerate(classes)}
    return [index[v] for v in values], classes, True


def _shown(value: object, limit: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _label_value(value: object, name: str, path: Path) -> int | str:
    """A class index (an integer >= 0; a whole float such as 2.0 too, as npz: takes it) or a class name (a string,
    "3" included). Anything else (a list, an object, null, true, 1.5, -1) is refused: as a name it would make a
    class nobody meant, and a negative index is refused as npz: refuses it."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise DataError(f"{path}: the label of {name} is {value}, but a class index must be >= 0; fix that entry "
                        "(or give every label as a class name, a string)")
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise DataError(f"{path}: the label of {name} must be a class name (a string) or index (an integer), "
                    f"got {_shown(value)}; fix that entry")
