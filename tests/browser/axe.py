"""axe-core in the page under test: no serious or critical violation, and every form field labelled.

axe is installed by `npm ci` (package.json devDependencies). The app's Content-Security-Policy
allows no inline script, so ``page.add_script_tag`` would be refused (and that refusal would fail
the test as a CSP violation). Instead the script is evaluated through the DevTools protocol
(``page.evaluate``), which runs in the page without being a page script, so the CSP stays strict
and untouched for everything the app itself loads.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ['violations'] });
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(', ')}`);
}"""

# Visible fields without a label (axe checks this too; this names the field plainly).
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter((el) => !['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type))
  .filter((el) => !el.closest('[hidden]') && el.getClientRects().length > 0)
  .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map((el) => el.id || el.name)"""


@cache
def _source() -> str:
    if not AXE_JS.exists():
        raise AssertionError(f"{AXE_JS} is missing: run `npm ci` (make install)")
    # A trailing expression keeps Playwright from taking the script for a function to call.
    return AXE_JS.read_text(encoding="utf-8") + "\n;true"


def check_page(page: Any) -> None:
    """Run axe-core on the page as it is now; fail with the serious and critical violations."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_source())
    problems = page.evaluate(RUN)
    assert problems == [], f"{page.url}: {problems}"
    unlabelled = page.evaluate(UNLABELLED)
    assert unlabelled == [], f"{page.url}: fields without a label: {unlabelled}"


LAYOUT_SHIFT = """() => new Promise((resolve) => {
  // Only while the page loads: up to the person's first click or key press on it. What the page
  // shows after they act (the thread after unlocking, an error after submitting) is not a shift.
  const first = performance.getEntriesByType('first-input')[0];
  const until = first ? first.startTime : Infinity;
  let total = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (!entry.hadRecentInput && entry.startTime < until) total += entry.value;
  });
  observer.observe({ type: 'layout-shift', buffered: true });
  setTimeout(() => { observer.disconnect(); resolve(total); }, 50);
})"""


def layout_shift(page: Any) -> float:
    """The cumulative layout shift of the page while it loaded (before the person first acted on it)."""
    return float(page.evaluate(LAYOUT_SHIFT))
