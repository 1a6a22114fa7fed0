"""Times the console's views in a real browser: for each path, the time from
navigation to the view marking itself ready (every API call answered and
rendered), as the median of several loads, cache disabled.

    console_timing.py <base url> <chromium> <path> [<path> …] [--loads N]

Prints one line per path: median, min and max in milliseconds. Used by
hand for README's figures (a grown database from `tach-bench growth
--keep`); no test asserts a timing.
"""

import statistics
import sys
import time

from playwright.sync_api import sync_playwright


def main():
    arguments = sys.argv[1:]
    loads = 5
    if "--loads" in arguments:
        index = arguments.index("--loads")
        loads = int(arguments[index + 1])
        del arguments[index : index + 2]
    base, chromium, *paths = arguments
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox"]
        )
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.route("**/*", lambda route: route.continue_(headers={**route.request.headers, "cache-control": "no-cache"}))
        print(f"{'view':70} {'median ms':>10} {'min':>7} {'max':>7}")
        for path in paths:
            times = []
            for _ in range(loads):
                started = time.monotonic()
                page.goto(base + path)
                page.wait_for_selector("body[data-ready=true]", timeout=120_000)
                times.append((time.monotonic() - started) * 1000)
                if page.locator(".message.error").count():
                    print(f"{path}: shows an error: {page.inner_text('.message.error')}", file=sys.stderr)
            print(f"{path[:70]:70} {statistics.median(times):10.0f} {min(times):7.0f} {max(times):7.0f}", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
