"""Screenshot a run's report in Debian's headless chromium (the docs' picture).

    uv run linewatch demo --out /tmp/demo
    uv run python bench/screenshot_report.py /tmp/demo/run docs/report-demo.png
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import CHROMIUM, CHROMIUM_ARGS, chromium_unavailable, serve


def main() -> None:
    run_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    why = chromium_unavailable()
    if why:
        raise SystemExit(why)
    from playwright.sync_api import sync_playwright

    with serve(run_dir) as url, sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = b.new_page(viewport={"width": 1200, "height": 1500})
        page.goto(f"{url}/report/index.html")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(out), full_page=False)
        b.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
