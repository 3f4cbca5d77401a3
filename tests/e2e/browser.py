"""Where the browser tests find Chromium. ``python -m tests.e2e.browser`` fails loudly when there is none."""

from __future__ import annotations

import glob
import os
import shutil
import sys
from pathlib import Path

HOW_TO_GET_ONE = """No Chromium was found for the browser tests (they are never skipped).
Get one of these:
  - Debian/Ubuntu:  sudo apt-get install -y chromium      (found at /usr/bin/chromium)
  - Playwright's build, with internet:  .venv/bin/playwright install chromium
  - any other Chromium or Chrome:  export CHROMIUM_EXECUTABLE=/path/to/chromium
"""

# Without these, Chromium keeps trying to reach Google's services, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def find_chromium() -> str | None:
    explicit = os.environ.get("CHROMIUM_EXECUTABLE")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    cache = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH", Path.home() / ".cache" / "ms-playwright"))
    builds = sorted(glob.glob(str(cache / "chromium-*" / "chrome-linux*" / "chrome")))
    return builds[-1] if builds else None


if __name__ == "__main__":
    path = find_chromium()
    if not path:
        sys.stderr.write(HOW_TO_GET_ONE)
        sys.exit(1)
    print(f"browser tests use {path}")
