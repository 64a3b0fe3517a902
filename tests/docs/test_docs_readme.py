"""The README's tables against the code: the command table against the CLI's own verbs and options, the
preset table against ``ganforge presets``, and no count of tests that nothing keeps true."""

from __future__ import annotations

import re

from doclib import README, code_spans, option_strings, section, table_rows, verbs

from ganforge.cli import main


def _commands_in_table() -> list[tuple[str, str]]:
    """(verb, command text) for every command the README's command table shows; a cell's bare ``--flag``
    span (``--list-layers``) belongs to the command before it."""
    found = []
    for row in table_rows(section(README.read_text(), "Commands")):
        for span in code_spans(row[0]):
            if span.startswith("ganforge "):
                found.append((span.split()[1], span))
            elif span.startswith("--") and found:
                found.append((found[-1][0], span))
    return found


def test_the_command_table_has_a_row_for_every_verb_and_no_other():
    shown = {verb for verb, _ in _commands_in_table()}
    real = set(verbs())
    assert not real - shown, f"verbs missing from README's command table: {sorted(real - shown)}"
    assert not shown - real, f"README's command table shows verbs the CLI lacks: {sorted(shown - real)}"


def test_every_option_in_the_command_table_is_one_its_verb_takes():
    parsers = verbs()
    wrong = [f"{verb}: {opt}" for verb, text in _commands_in_table() if verb in parsers
             for opt in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text) if opt not in option_strings(parsers[verb])]
    assert not wrong, f"options in README's command table that the verb does not take: {wrong}"


def _presets_listed(capsys) -> set[str]:
    assert main(["presets"]) == 0
    return {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}


def test_the_preset_table_is_what_ganforge_presets_lists(capsys):
    rows = table_rows(section(README.read_text(), "Presets"))
    shown = {span for row in rows for span in code_spans(row[0])}
    listed = _presets_listed(capsys)
    assert not listed - shown, f"presets missing from README's preset table: {sorted(listed - shown)}"
    assert not shown - listed, f"README's preset table names presets `ganforge presets` lacks: {sorted(shown - listed)}"


def test_the_readme_states_no_test_count():
    """A count of tests is true for a day; the README says how to run them instead."""
    counts = re.findall(r"(?:about |~)?[\d,]{3,} tests", README.read_text())
    assert not counts, f"the README states a test count, which no test keeps true: {counts}"
