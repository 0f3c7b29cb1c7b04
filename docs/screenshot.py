"""Redraw docs/report.png, the README's picture of a report, in headless Debian chromium.

    python docs/screenshot.py runs/default/report.html docs/report.png [--height 1400]

It needs the test extras (playwright) and /usr/bin/chromium (`make setup-test` installs both).
The picture is the top of the page: the browser window, not the whole report.
"""

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--height", type=int, default=1400)
    parser.add_argument("--scroll-to", help="the text of a heading to start the picture at")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": args.height})
        page.goto(args.report.resolve().as_uri())
        if args.scroll_to:
            page.get_by_role("heading", name=args.scroll_to, exact=True).evaluate("heading => heading.scrollIntoView()")
        page.screenshot(path=str(args.png))
        browser.close()


if __name__ == "__main__":
    main()
