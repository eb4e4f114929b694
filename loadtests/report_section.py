"""Puts a generated section into docs/benchmarks.md between its own markers, after the sections that
benchmarks_report.py regenerates (which keeps everything from its "measured separately" marker on)."""
from pathlib import Path


def replace_section(target: Path, begin: str, end: str, section: str) -> None:
    text = target.read_text() if target.exists() else "# Benchmarks\n\n<!-- measured separately -->\n"
    block = f"{begin}\n{section}\n{end}"
    if begin in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    target.write_text(text)
