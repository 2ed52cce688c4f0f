"""The Makefile's set-up is safe to run twice at once: `make run` and `make test`
started together on a fresh clone create `.venv` once (the second waits for the first
and then finds it installed), instead of two pips colliding in one virtualenv.

A fake PYTHON stands in for the real one, so that the test takes seconds: its `-m venv`
makes a `pip` that fails when another pip runs in the same virtualenv at the same time.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/bin/sh
# Called as: python -m venv DIR
dir="$3"
mkdir -p "$dir/bin"
echo venv >> "$dir/log"
cat > "$dir/bin/pip" <<EOF
#!/bin/sh
if ! mkdir "$dir/pip-running" 2>/dev/null; then echo "two pips at once" >&2; exit 1; fi
echo "pip \\$*" >> "$dir/log"
sleep 1
rmdir "$dir/pip-running"
EOF
chmod +x "$dir/bin/pip"
"""


def test_two_set_ups_started_together_install_once(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    python = tmp_path / "fake-python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    make = ["make", "--no-print-directory", f"PYTHON={python}", ".venv/bin/.installed"]
    both = [
        subprocess.Popen(make, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=60), p.stderr.read().decode() if p.stderr else "") for p in both]
    assert [status for status, _err in results] == [0, 0], results
    log = (tmp_path / ".venv" / "log").read_text().splitlines()
    assert log.count("venv") == 1, log
    assert len([line for line in log if line.startswith("pip ")]) == 2, log
    assert (tmp_path / ".venv" / "bin" / ".installed").exists()
