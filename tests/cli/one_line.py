"""The one check every CLI refusal test makes (docs/errors.md): exit code 2 and one line on stderr, starting
``ganforge: ``, with no traceback, holding each expected text. One copy, imported by the CLI test files."""

from ganforge.cli import main


def fails(capsys, argv, *expected) -> str:
    """Run ``ganforge ARGV`` (paths may be Path objects) and check it is refused in one line; that line."""
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("ganforge: ") and "Traceback" not in err, err
    for text in expected:
        assert text in err, (text, err)
    return err
