"""Drives tach's console in a real browser (Debian's Chromium, headless,
through Playwright) for tests/tests/e2e/console.rs.

    console_check.py <base url> <chromium> <screenshot dir> <expectations.json>

Each page of the expectations is loaded at its deep link, waited for until
the view marks itself ready, and checked: no console error or page error,
every expected text present, every selector matched exactly as often as
expected, no sideways scrolling of the page on a phone-sized screen; a
screenshot of each (wide and narrow) goes to the screenshot dir.

Then the live page stays open and obeys lines on stdin, answering on stdout:
  "expect <id>,<id>,…"  wait until the page has received those event ids,
                        then print "seen"
  "finish"              check no id arrived twice, then exit
It prints "live-open" once the stream is connected. Any failure is printed
to stderr and ends the script with status 1.
"""

import json
import sys
import time

from playwright.sync_api import sync_playwright

NARROW = {"width": 390, "height": 844}
WIDE = {"width": 1366, "height": 900}


def fail(why):
    print(why, file=sys.stderr, flush=True)
    sys.exit(1)


def watch_errors(page, errors, ignore=lambda text: False):
    def on_console(message):
        if message.type == "error" and not ignore(message.text):
            where = (message.location or {}).get("url", "")
            errors.append(f"console: {message.text} {where}".strip())

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))


def check_page(browser, base, shots, spec):
    name = spec["name"]
    for size_name, size in (("wide", WIDE), ("narrow", NARROW)):
        page = browser.new_page(viewport=size)
        errors = []
        # A view whose API call is meant to fail: the browser reports the
        # failed request itself; the view must show the API's message.
        expected_failure = spec.get("api_error", False)
        watch_errors(page, errors, ignore=lambda text: expected_failure and "Failed to load resource" in text)
        page.goto(base + spec["path"])
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        # Charts draw in a microtask after their view is ready.
        page.wait_for_timeout(200)
        text = page.inner_text("main")
        for expected in spec.get("texts", []):
            if expected not in text:
                fail(f"{name} ({size_name}): {expected!r} is not on the page:\n{text[:3000]}")
        for selector, count in spec.get("counts", {}).items():
            found = page.locator(selector).count()
            if found != count:
                fail(f"{name} ({size_name}): {selector} matched {found} times, expected {count}")
        if "Loading…" in text:
            fail(f"{name} ({size_name}): still loading when marked ready")
        if not expected_failure and page.locator(".message.error").count():
            fail(f"{name} ({size_name}): shows an error: {page.inner_text('.message.error')}")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 1:
            fail(f"{name} ({size_name}): the page scrolls sideways by {overflow} px")
        page.screenshot(path=f"{shots}/{name}-{size_name}.png", full_page=True)
        if expected_failure and not page.locator(".message.error").count():
            fail(f"{name} ({size_name}): the API's error is not shown")
        if errors:
            fail(f"{name} ({size_name}): " + "; ".join(errors))
        page.close()


def live(browser, base, shots, path):
    page = browser.new_page(viewport=WIDE)
    errors = []
    # A dropped stream is reported by the browser as a failed request of
    # the stream: that is the drop the test makes, not an error of the page.
    watch_errors(page, errors, ignore=lambda text: "net::ERR" in text)
    page.goto(base + path)
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    page.wait_for_selector("#live-state.connected", timeout=30_000)
    print("live-open", flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "expect":
            wanted = [int(value) for value in argument.split(",") if value]
            deadline = time.monotonic() + 60
            while True:
                received = page.evaluate("window.tachLive.ids")
                missing = sorted(set(wanted) - set(received))
                if not missing:
                    break
                if time.monotonic() > deadline:
                    fail(f"live: {len(missing)} of {len(wanted)} events never arrived: {missing[:20]}")
                page.wait_for_timeout(100)
            print("seen", flush=True)
        elif command == "finish":
            received = page.evaluate("window.tachLive.ids")
            if len(received) != len(set(received)):
                repeated = sorted({value for value in received if received.count(value) > 1})
                fail(f"live: events arrived twice: {repeated[:20]}")
            rows = page.locator("#live-rows tr").count()
            if rows != min(len(received), 500):
                fail(f"live: {rows} rows shown for {len(received)} events")
            page.screenshot(path=f"{shots}/live-wide.png", full_page=True)
            if errors:
                fail("live: " + "; ".join(errors))
            print(f"live: {len(received)} events, none twice", flush=True)
            return
        else:
            fail(f"unknown command {line!r}")
    fail("stdin closed before finish")


def main():
    base, chromium, shots, expectations = sys.argv[1:5]
    with open(expectations) as file:
        spec = json.load(file)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox"]
        )
        for page in spec["pages"]:
            check_page(browser, base, shots, page)
        live(browser, base, shots, spec["live"])
        browser.close()


if __name__ == "__main__":
    main()
