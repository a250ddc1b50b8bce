"""Drive a page in headless Chromium with nothing but its command line.

`run_page` writes a copy of the page with a small harness script injected at the top of
<head> (before the page's Content Security Policy, so the policy does not block it). The
harness records JavaScript errors, console errors, CSP violations and loaded resources, then
on `load` runs the test's steps (the body of a JS function) and writes everything as JSON
into the DOM, which `chromium --dump-dom` prints. The page is opened from a file:// path and
the browser is told to stay off the network.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)

# Helpers the steps can use: h.rows() (visible cell rows, as their scenario and label),
# h.select(id, value), h.type(id, text), h.click(selector), h.visible(node).
HARNESS = """
(function () {
  var log = { errors: [], violations: [] };
  window.alert = window.confirm = window.prompt = function () { window.__xss = "dialog"; };
  window.addEventListener("error", function (e) {
    if (e.target && e.target !== window) {
      log.errors.push("resource failed: " + (e.target.src || e.target.href || e.target.tagName));
    } else {
      log.errors.push(String(e.message) + " at " + e.filename + ":" + e.lineno);
    }
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    log.errors.push("unhandled rejection: " + e.reason);
  });
  document.addEventListener("securitypolicyviolation", function (e) {
    log.violations.push(e.violatedDirective + " " + e.blockedURI);
  });
  var consoleError = console.error;
  console.error = function () {
    log.errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
    return consoleError.apply(console, arguments);
  };
  var h = window.__h = {
    visible: function (node) { return !!node && node.getClientRects().length > 0; },
    rows: function () {
      return Array.prototype.filter.call(document.querySelectorAll("#cells tr.cell"), h.visible)
        .map(function (row) {
          return row.querySelector(".scenario").textContent + " | " +
            row.querySelector(".label").textContent;
        });
    },
    select: function (id, value) {
      var el = document.getElementById(id);
      el.value = value;
      el.dispatchEvent(new Event("change", { bubbles: true }));
    },
    type: function (id, text) {
      var el = document.getElementById(id);
      el.value = text;
      el.dispatchEvent(new Event("input", { bubbles: true }));
    },
    click: function (selector) {
      var el = document.querySelector(selector);
      if (!el) throw new Error("nothing matches " + selector);
      el.click();
      return el;
    }
  };
  window.addEventListener("load", function () {
    var out = { result: null, loaded_ms: performance.now() };
    try {
      out.result = (function (h) { STEPS }).call(null, h);
    } catch (e) {
      log.errors.push("steps: " + e + " " + e.stack);
    }
    out.steps_ms = performance.now() - out.loaded_ms;
    out.errors = log.errors;
    out.violations = log.violations;
    out.resources = performance.getEntriesByType("resource").map(function (r) { return r.name; });
    out.xss = window.__xss === undefined ? null : String(window.__xss);
    out.js_ran = document.documentElement.classList.contains("js");
    var pre = document.createElement("pre");
    pre.id = "harness-result";
    pre.textContent = JSON.stringify(out);
    document.body.append(pre);
  });
})();
"""

_CHARSET = '<meta charset="utf-8">'
_CSP = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n?')
_RESULT = re.compile(r'<pre id="harness-result">(.*?)</pre>', re.DOTALL)


def chromium_or_skip() -> Path:
    """Chromium, for a browser test; the test is skipped without it, except on CI
    (CI=true), where a missing browser fails it."""
    import pytest  # only the tests skip; bench/ uses this module too

    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"the browser tests need headless Chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must install it", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True, slots=True)
class PageRun:
    result: Any
    errors: list[str]
    violations: list[str]
    resources: list[str]
    xss: str | None
    js_ran: bool
    loaded_ms: float
    steps_ms: float
    wall_seconds: float


def instrumented(page: str, steps: str, *, keep_csp: bool = True) -> str:
    """The page with the harness in it; `keep_csp=False` drops the page's CSP, to show that
    the page stays safe on its own."""
    if _CHARSET not in page:
        raise ValueError("the page has no <meta charset> to put the harness after")
    if not keep_csp:
        page = _CSP.sub("", page, count=1)
    script = HARNESS.replace("STEPS", steps)
    return page.replace(_CHARSET, f"{_CHARSET}\n<script>{script}</script>", 1)


def chromium_command(
    workdir: Path, *extra: str, width: int = 1280, height: int = 900, zoom: float = 1.0
) -> list[str]:
    """The command line; `zoom` is the browser's page zoom (the CSS viewport is the window
    divided by it), set in the profile as a person would in the browser's settings."""
    profile = workdir / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    if zoom != 1.0:
        # Chromium keeps zoom as a level: the factor is 1.2 to the power of the level.
        level = math.log(zoom) / math.log(1.2)
        preferences = {"partition": {"default_zoom_level": {"x": level}}}
        (profile / "Default").mkdir(exist_ok=True)
        (profile / "Default" / "Preferences").write_text(json.dumps(preferences))
    return [
        str(CHROMIUM),
        *FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        *extra,
    ]


def run_page(
    page: str,
    steps: str,
    workdir: Path,
    *,
    keep_csp: bool = True,
    width: int = 1280,
    height: int = 900,
    zoom: float = 1.0,
    timeout: float = 90,
) -> PageRun:
    """Open `page` (HTML text) from a file in `workdir`, run `steps` (a JS function body
    that gets the helpers as `h` and returns something JSON-able) once it has loaded."""
    path = workdir / "page.html"
    path.write_text(instrumented(page, steps, keep_csp=keep_csp), encoding="utf-8")
    command = chromium_command(
        workdir, "--dump-dom", path.as_uri(), width=width, height=height, zoom=zoom
    )
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    wall = time.perf_counter() - began
    found = _RESULT.search(done.stdout)
    if not found:
        raise RuntimeError(
            f"chromium printed no harness result (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    out = json.loads(html.unescape(found.group(1)))
    return PageRun(
        result=out["result"],
        errors=out["errors"],
        violations=out["violations"],
        resources=out["resources"],
        xss=out["xss"],
        js_ran=out["js_ran"],
        loaded_ms=out["loaded_ms"],
        steps_ms=out["steps_ms"],
        wall_seconds=wall,
    )


def screenshot(
    page: Path, out: Path, workdir: Path, *, width: int = 1280, height: int = 900, zoom: float = 1.0
) -> None:
    command = chromium_command(
        workdir, f"--screenshot={out}", page.as_uri(), width=width, height=height, zoom=zoom
    )
    subprocess.run(command, capture_output=True, timeout=90, check=True)
