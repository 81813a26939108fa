"""`ganforge diagnose RUN_DIR`: the health table a user reads."""
import json
import re

from ganforge import config as config_mod
from ganforge.cli import main
from ganforge.config import merge
from ganforge.diagnose.summary import KEYS
from ganforge.presets import resolve_config


def fake_run(path, records):
    path.mkdir()
    cfg = resolve_config("gan", [{"data": "ring8", "steps": 200_000_000}])
    config_mod.write_yaml(merge(cfg, {}), str(path / "config.yaml"))
    (path / "stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def table(out: str) -> list[str]:
    lines = out.splitlines()
    start = lines.index("health over time (means per stretch):") + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("  "))
    return lines[start:end]


def test_health_table_columns_are_separated_and_aligned(tmp_path, capsys):
    # Long column names next to each other, wide numbers and step counts past 8 digits.
    records = [
        {"step": step, "Loss/D": 1.3862943611198906, "Loss/G": -123456.789, "D(x)": 0.5, "D(G(z))": 1.5e-07,
         "Health/diversity": 7.163000808426133, "Health/nn-distance": 0.123456789, "health": "ok" if step < 4e7 else "D wins"}
        for step in range(10_000_000, 100_000_001, 10_000_000)
    ]  # fmt: skip
    run = fake_run(tmp_path / "run", records)
    assert main(["diagnose", str(run)]) == 0
    header, *rows = table(capsys.readouterr().out)
    # Every column is set apart by at least two spaces: the header splits back into its names.
    assert re.split(r"\s{2,}", header.strip()) == ["steps", *KEYS, "health"]
    assert len(rows) == 5
    # The numeric columns are right-aligned: each cell ends where its name ends in the header.
    ends = [m.end() for m in re.finditer(r"\S+", header)][1 : 1 + len(KEYS)]
    for row in rows:
        cells = list(re.finditer(r"\S+(?: \S+)*", row))  # cells hold no double spaces
        assert [m.end() for m in cells[1 : 1 + len(KEYS)]] == ends, f"\n{header}\n{row}"
        assert cells[-1].start() == header.index("health", ends[-1])  # the health column is left-aligned
    assert rows[0].split()[:2] == ["10000000-20000000", "1.386"]
