"""What every browser test shares: Debian's Chromium through Playwright, `forceplate serve` on loopback, the two
viewports the pages are judged at, signing in, an accessibility audit and a width check.

Never downloads a browser: Playwright drives /usr/bin/chromium (FORCEPLATE_CHROMIUM overrides it). The
accessibility audit injects the vendored axe-core (tests/vendor/axe-core, MPL-2.0): no CDN, nothing fetched.

The fixtures ``browser`` (one Chromium per test module) live in conftest.py; tests take a page with
:func:`open_page` and a viewport name from :data:`VIEWPORTS`.
"""
from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from helpers import bench_serving

CHROMIUM = os.environ.get("FORCEPLATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "clinic password 1"
WAIT_MS = 20_000
# A phone held upright (the size the issue reports), and a clinic laptop.
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}
AXE_JS = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")

bench = bench_serving()


def have_chromium() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed (PyPI has no wheel for 32-bit ARM)"
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        return f"no chromium at {CHROMIUM} (apt-get install chromium; never `playwright install`)"
    return None


@contextmanager
def serving(data_dir, spec, port=None, password=PASSWORD, **kwargs):
    """`forceplate serve` of ``spec`` on loopback (a free port unless given); yields the served object (its
    ``url``). Stopped with SIGTERM. The clinic password is ``password`` unless the data folder has one."""
    with bench.serving(spec, traced=False, data_dir=data_dir, port=port, password=password, **kwargs) as served:
        yield served


@contextmanager
def chromium():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, base_url, viewport="desktop", **context_options):
    """A new page at ``viewport`` (a name of VIEWPORTS or a {"width", "height"} dict) that records console
    errors (``page.console_errors``) and refuses, and records, every request off ``base_url``
    (``page.foreign_requests``): the pages must work on a clinic LAN with no internet. ``context_options``
    go to Playwright's new_context (e.g. ``locale``, ``timezone_id``)."""
    size = VIEWPORTS[viewport] if isinstance(viewport, str) else dict(viewport)
    context = browser.new_context(viewport=size, has_touch=size["width"] < 600, **context_options)
    page = context.new_page()
    page.console_errors, page.foreign_requests = [], []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))

    def only_loopback(route):
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            page.foreign_requests.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    return page


def sign_in(page, url, password=PASSWORD):
    """Open ``url``, be sent to the login form, type the password and press Sign in; back at ``url``."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Clinic password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(url)


def axe_violations(page, impacts=SERIOUS, disable=()) -> list[dict]:
    """Run axe-core (WCAG 2.x A and AA rules and best practices) on the page as it is now; the violations of
    the given impacts, each {"id", "impact", "help", "nodes": [target selectors]} (empty: none)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol: the pages' Content-Security-Policy forbids inline scripts
        page.evaluate("(source) => { (0, eval)(source); }", AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async (disabled) => {
            const rules = {};
            for (const id of disabled) rules[id] = {enabled: false};
            const r = await window.axe.run(document, {resultTypes: ['violations'], rules});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.map(n => n.target.join(' '))}));
        }""", list(disable))
    return [v for v in result if v["impact"] in impacts]


def too_wide(page) -> list[str]:
    """What makes the page wider than its viewport: [] when nothing does; else the document's overflow and the
    widest elements that stick out (tag#id.class and their right edge, in CSS pixels)."""
    return page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const out = [];
            if (document.documentElement.scrollWidth > width + 1)
                out.push(`document ${document.documentElement.scrollWidth} px > viewport ${width} px`);
            for (const el of document.body.querySelectorAll('*')) {
                const r = el.getBoundingClientRect();
                if (r.width === 0 || r.height === 0) continue;
                if (getComputedStyle(el).position === 'fixed') continue;
                let clipped = false;        // inside a scroller of its own (e.g. a chart's canvas): not the page's
                for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
                    const ox = getComputedStyle(p).overflowX;
                    if (ox === 'auto' || ox === 'scroll' || ox === 'hidden') { clipped = true; break; }
                }
                if (!clipped && r.right > width + 1)
                    out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}` +
                             `${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''}` +
                             ` right edge ${Math.round(r.right)} px`);
                if (out.length > 8) break;
            }
            return out;
        }""")


def small_targets(page, min_px=44) -> list[str]:
    """Visible links, buttons and form controls smaller than ``min_px`` CSS pixels in either direction (a
    link inside a sentence is exempt, as WCAG 2.5.5 allows): [] when none."""
    return page.evaluate(
        """(min) => {
            const out = [];
            for (const el of document.querySelectorAll('a[href], button, input, select, textarea, summary, [role=button]')) {
                if (el.type === 'hidden') continue;
                const r = el.getBoundingClientRect();
                const style = getComputedStyle(el);
                if (r.width === 0 || r.height === 0 || style.visibility === 'hidden') continue;
                if (el.tagName === 'A' && style.display === 'inline' && el.closest('p, li, td, dd') &&
                    el.closest('p, li, td, dd').textContent.trim() !== el.textContent.trim()) continue;
                if (r.width < min || r.height < min)
                    out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${(el.textContent || el.value || el.name || '').trim().slice(0, 30)}" ${Math.round(r.width)}x${Math.round(r.height)}`);
            }
            return out;
        }""", min_px)


def page_problems(page) -> dict:
    """Everything the page audit checks, on the page as it is now: axe serious/critical violations, overflow
    of the viewport, not exactly one h1, an id used twice (a script's getElementById would find the wrong
    one), touch targets under 44 px, script errors, requests off the plate. {} when none."""
    problems = {}
    if violations := axe_violations(page):
        problems["accessibility"] = violations
    if wide := too_wide(page):
        problems["wider than the screen"] = wide
    if page.locator("h1").count() != 1:
        problems["headings"] = f"{page.locator('h1').count()} h1 elements (one expected)"
    duplicated = page.evaluate("""() => { const seen = {}, twice = new Set();
        for (const el of document.querySelectorAll('[id]')) { if (seen[el.id]) twice.add(el.id); seen[el.id] = true; }
        return [...twice]; }""")
    if duplicated:
        problems["ids used twice"] = duplicated
    if small := small_targets(page):
        problems["touch targets under 44 px"] = small
    if page.console_errors:
        problems["script errors"] = page.console_errors
    if page.foreign_requests:
        problems["requests off the plate"] = page.foreign_requests
    return problems
