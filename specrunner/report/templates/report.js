(function () {
  "use strict";
  // Everything shown here comes from the suite or from Cekura: it only ever becomes text
  // (text nodes, textContent, setAttribute on fixed names), never markup.

  var ROWS = 200; // cells added to the table at a time
  var RUNS = 25; // runs added to an expanded cell at a time
  var PRINT_CELLS = 2000; // printing shows every matching cell up to this many
  var PRINT_RUNS = 500; // ...and expands them all when they hold up to this many runs
  var OUTCOMES = ["passed", "failed", "error", "unknown", "not_run", "not_needed"];
  var SHOW = {
    "": function () { return true; },
    failing: function (c) { return !c.met; },
    passing: function (c) { return c.met; },
    flaky: function (c) { return c.flaky; },
    failed: function (c) { return c.failed > 0; },
    error: function (c) { return c.error > 0; },
    unknown: function (c) { return c.unknown > 0; },
    not_run: function (c) { return c.not_run > 0; },
    regressed: function (c) { return c.change_status === "regressed"; },
    changed: function (c) {
      return !!c.change_status && (c.change_status !== "unchanged" || !!c.change_note);
    }
  };

  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  var data = JSON.parse(document.getElementById("report-data").textContent);
  var table = document.getElementById("cells");
  var tbody = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var columns = headers.map(function (th) {
    return th.querySelector("button[data-sort]").getAttribute("data-sort");
  });
  var titles = headers.map(function (th) { return th.textContent.trim(); });
  var sortSelect = document.getElementById("sort-by");
  var outcomeFilter = document.getElementById("filter-outcome");
  var tagFilter = document.getElementById("filter-tag");
  var textFilter = document.getElementById("filter-text");
  var shownCount = document.getElementById("shown-count");
  var noMatch = document.getElementById("no-match");
  var moreCells = document.getElementById("more-cells");

  // Each cell's sparkline is drawn by the report's writer as SVG in a <template>: this
  // script only puts a copy of it in the cell's row.
  var sparklines = {};
  var drawn = document.getElementById("sparklines");
  if (drawn) {
    Array.prototype.forEach.call(drawn.content.querySelectorAll("[data-cell]"), function (node) {
      sparklines[node.getAttribute("data-cell")] = node;
    });
  }

  var states = data.cells.map(function (cell, i) {
    return { cell: cell, index: i, row: null, detail: null, list: null, more: null,
             shown: 0, open: false, text: null };
  });
  var order = states.slice(); // the current sort order
  var matching = order; // ...and those of them the filters let through
  var limit = ROWS; // how many of `matching` are in the table
  var sorted = { key: null, descending: false };

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "class") node.className = value;
        else node.setAttribute(name, value === true ? "" : String(value));
      });
    }
    [].concat(children === undefined ? [] : children).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.append(child instanceof Node ? child : String(child));
    });
    return node;
  }

  function orDash(value) {
    return value === null || value === undefined || value === "" ? "—" : String(value);
  }

  function seconds(value) {
    if (typeof value !== "number") return "—";
    if (value < 60) return value.toFixed(1) + " s";
    var whole = Math.round(value);
    return Math.floor(whole / 60) + " min " + (whole % 60) + " s";
  }

  function plural(n, one, many) {
    return n.toLocaleString("en") + " " + (n === 1 ? one : many);
  }

  // ---- the table of cells

  function countCell(key) {
    return function (c) {
      return h("td", { class: "num" + (c[key] ? " nz-" + key : " zero") }, String(c[key]));
    };
  }

  var CELL = {
    scenario: function (c, state) {
      return h("th", { scope: "row" }, [
        h("button", { type: "button", class: "expand", "aria-expanded": "false",
                      "aria-controls": "runs-" + state.index }, [
          h("span", { class: "chevron", "aria-hidden": "true" }),
          h("span", { class: "scenario" }, c.scenario)
        ]),
        h("span", { class: "sub" }, "#" + c.scenario_id)
      ]);
    },
    label: function (c) { return h("td", { class: "label" }, c.label); },
    tags: function (c) {
      return h("td", { class: "tags" }, c.tags.map(function (t) {
        return h("span", { class: "tag" }, t);
      }));
    },
    runs: function (c) {
      // A sequential cell: the runs it sent of its most (why it stopped: under Expect).
      return h("td", { class: "num" }, [
        String(c.runs),
        c.sequential ? h("span", { class: "sub" }, "of " + c.max_runs) : null
      ]);
    },
    pass_rate: function (c) {
      return h("td", { class: "num rate" }, [
        c.pass_rate_text,
        c.wilson_text ? h("span", { class: "sub", title: "95% Wilson score interval" },
                          "CI " + c.wilson_text) : null
      ]);
    },
    expect: function (c) {
      return h("td", { class: "expect" }, [
        c.expect,
        c.sequential ? h("span", { class: "sub sequential" }, c.sequential) : null
      ]);
    },
    met: function (c) {
      return h("td", null, h("span", { class: "badge outcome-" + (c.met ? "passed" : "failed") },
                             c.met ? "met" : "not met"));
    },
    flaky: function (c) {
      return h("td", null, c.flaky ? h("span", { class: "badge flaky" }, "flaky") : null);
    },
    change: function (c) {
      // Against the baseline: a badge, the counts and q, and why the verdict may mislead.
      return h("td", { class: "change", title: c.change_note || null }, [
        c.change_status ? h("span", { class: "badge change-" + c.change_status },
                            c.change_status.replace("_", " ")) : null,
        c.change_text ? h("span", { class: "sub" }, c.change_text) : null,
        c.change_note ? h("span", { class: "sub change-note" }, c.change_note) : null
      ]);
    },
    trend: function (c, state) {
      var spark = sparklines[state.index];
      return h("td", { class: "trend" }, spark ? spark.cloneNode(true) : null);
    }
  };
  OUTCOMES.forEach(function (key) { CELL[key] = countCell(key); });

  function rowOf(state) {
    if (!state.row) {
      var c = state.cell;
      state.row = h("tr", { class: "cell" + (c.met ? "" : " not-met"), id: "cell-" + state.index,
                            "data-i": state.index, role: "row" },
                    columns.map(function (key, i) {
                      // On a phone each cell is a card: its values carry their column's
                      // name (shown by the style sheet), and their column as a class.
                      var node = CELL[key](c, state);
                      node.classList.add("col-" + key);
                      node.setAttribute("data-label", titles[i]);
                      node.setAttribute("role", i === 0 ? "rowheader" : "cell");
                      return node;
                    }));
    }
    return state.row;
  }

  function render() {
    var fragment = document.createDocumentFragment();
    matching.slice(0, limit).forEach(function (state) {
      fragment.append(rowOf(state));
      if (state.open) fragment.append(state.detail);
    });
    tbody.replaceChildren(fragment);
    var rendered = Math.min(limit, matching.length);
    var total = plural(states.length, "cell", "cells");
    shownCount.textContent = matching.length === states.length ? total
      : matching.length.toLocaleString("en") + " of " + total;
    if (rendered < matching.length) {
      shownCount.textContent += " (first " + rendered.toLocaleString("en") + " shown)";
    }
    noMatch.hidden = matching.length > 0 || states.length === 0;
    moreCells.hidden = rendered >= matching.length;
    moreCells.textContent = "Show " + Math.min(ROWS, matching.length - rendered) + " more cells";
  }

  moreCells.addEventListener("click", function () {
    limit += ROWS;
    render();
  });

  // ---- filters

  function haystack(state) {
    if (state.text === null) {
      var c = state.cell;
      var parts = [c.id, c.scenario, c.label, c.scenario_id, c.expect].concat(c.tags);
      c.run_indices.forEach(function (i) {
        var run = data.runs[i];
        parts.push(run.key, run.run_id, run.result_id, run.status, run.error);
      });
      state.text = parts.filter(function (p) { return p !== null && p !== undefined; })
        .join("\n").toLowerCase();
    }
    return state.text;
  }

  function filter() {
    var show = SHOW[outcomeFilter.value] || SHOW[""];
    var tag = tagFilter.value;
    var words = textFilter.value.toLowerCase().split(/\s+/).filter(Boolean);
    matching = order.filter(function (state) {
      var c = state.cell;
      return show(c) && (!tag || c.tags.indexOf(tag) >= 0) &&
        words.every(function (w) { return haystack(state).indexOf(w) >= 0; });
    });
    limit = ROWS;
    render();
  }
  [outcomeFilter, tagFilter].forEach(function (el) { el.addEventListener("change", filter); });
  textFilter.addEventListener("input", filter);

  // ---- sorting

  function sortValue(cell, key) {
    var value = cell[key];
    if (Array.isArray(value)) return value.join(", ");
    if (typeof value === "boolean") return value ? 1 : 0;
    return value;
  }

  var collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

  function sortBy(key, descending) {
    // No key: the report's own order.
    order = key === null ? states.slice() : states.slice().sort(function (a, b) {
      var x = sortValue(a.cell, key);
      var y = sortValue(b.cell, key);
      var missingX = x === null || x === undefined;
      var missingY = y === null || y === undefined;
      if (missingX || missingY) {
        // Cells without a value go last either way.
        return missingX === missingY ? a.index - b.index : missingX ? 1 : -1;
      }
      var diff = typeof x === "number" && typeof y === "number" ? x - y
        : collator.compare(String(x), String(y));
      return (descending ? -diff : diff) || a.index - b.index;
    });
    sorted = { key: key, descending: descending };
    headers.forEach(function (th, i) {
      th.setAttribute("aria-sort", columns[i] !== key ? "none"
        : descending ? "descending" : "ascending");
    });
    // The Sort menu says how the cells are sorted (blank for a sort it does not offer).
    var chosen = key === null ? "" : key + (descending ? ":desc" : ":asc");
    sortSelect.value = chosen;
    if (sortSelect.value !== chosen) sortSelect.selectedIndex = -1;
    filter();
  }

  sortSelect.addEventListener("change", function () {
    var parts = sortSelect.value.split(":");
    sortBy(parts[0] || null, parts[1] === "desc");
  });

  table.tHead.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-sort]");
    if (!button) return;
    var key = button.getAttribute("data-sort");
    // Counts and rates show the largest first, text starts at A.
    var descending = sorted.key === key ? !sorted.descending : button.hasAttribute("data-numeric");
    sortBy(key, descending);
  });

  // ---- a cell's runs, built when it is first expanded

  function recording(url) {
    if (!url) return "—";
    var parsed;
    try {
      parsed = new URL(url);
    } catch (e) {
      return String(url);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return String(url);
    return h("a", { href: parsed.href, rel: "noopener noreferrer", target: "_blank",
                    title: parsed.href }, "recording");
  }

  function field(label, value) {
    return h("div", null, [h("dt", null, label), h("dd", null, value)]);
  }

  function bullets(lines) {
    var items = (lines || []).map(function (line) { return h("li", null, line); });
    return items.length ? h("ul", null, items) : null;
  }

  function metricsTable(metrics) {
    if (!metrics || !metrics.length) return null;
    var head = h("tr", null, ["Metric", "Type", "Score", "Value", "Explanation"].map(function (t) {
      return h("th", { scope: "col" }, t);
    }));
    // The labels are for a phone, where each metric is a block of its own.
    var body = metrics.map(function (m) {
      return h("tr", null, [
        h("td", { class: "metric-name" }, m.name),
        h("td", { class: "metric-type" }, h("code", null, m.type)),
        h("td", { class: "num", "data-label": "Score" }, orDash(m.score)),
        h("td", { "data-label": "Value" }, orDash(m.value)),
        h("td", { class: "metric-explanation" }, bullets(m.explanation) || "—")
      ]);
    });
    return h("div", { class: "metrics-wrap" }, [
      h("h4", null, "Metrics"),
      h("table", { class: "metrics" }, [h("thead", null, head), h("tbody", null, body)])
    ]);
  }

  function expected(outcome) {
    if (!outcome) return null;
    return h("div", { class: "expected" }, [
      h("h4", null, "Expected outcome: score " + orDash(outcome.score)),
      bullets(outcome.explanation)
    ]);
  }

  function textBlock(title, text, cls) {
    return h("div", { class: cls }, [h("h4", null, title), h("pre", null, orDash(text))]);
  }

  function runCard(run) {
    var outcome = OUTCOMES.indexOf(run.outcome) >= 0 ? run.outcome : "unknown";
    var payload = run.publish_data_message === undefined ? null
      : JSON.stringify(run.publish_data_message, null, 2);
    return h("article", { class: "run run-" + outcome, "data-key": run.key }, [
      h("h3", null, [
        h("span", { class: "badge outcome-" + outcome }, outcome.replace("_", " ")),
        h("span", null, "Repeat " + orDash(run.repeat)),
        h("code", { class: "key" }, run.key)
      ]),
      h("dl", { class: "fields" }, [
        field("Cekura status", orDash(run.status)),
        field("Run id", orDash(run.run_id)),
        field("Result id", orDash(run.result_id)),
        field("Room", orDash(run.room)),
        field("Duration", seconds(run.duration_seconds)),
        field("Recording", recording(run.recording_url))
      ]),
      run.error ? h("p", { class: "run-error" }, [h("strong", null, "Error: "), run.error]) : null,
      metricsTable(run.metrics),
      expected(run.expected_outcome),
      h("div", { class: "texts" }, [
        textBlock("Transcript", run.transcript, "transcript"),
        textBlock("publish_data_message", payload, "payload")
      ])
    ]);
  }

  function showRuns(state, all) {
    var indices = state.cell.run_indices;
    var end = all ? indices.length : Math.min(indices.length, state.shown + RUNS);
    var fragment = document.createDocumentFragment();
    for (var k = state.shown; k < end; k++) fragment.append(runCard(data.runs[indices[k]]));
    state.list.append(fragment);
    state.shown = end;
    var left = indices.length - end;
    state.more.hidden = left <= 0;
    state.more.textContent = "Show " + Math.min(RUNS, left) + " more runs (" + left + " not shown)";
  }

  function buildDetail(state) {
    var count = state.cell.run_indices.length;
    state.list = h("div", { class: "run-list" });
    state.more = h("button", { type: "button", class: "more" });
    state.more.addEventListener("click", function () { showRuns(state, false); });
    var box = h("div", { class: "runs" }, [
      h("p", { class: "runs-head" }, plural(count, "run", "runs") + " of " + state.cell.id),
      state.list,
      state.more
    ]);
    state.detail = h("tr", { class: "runs-row", id: "runs-" + state.index },
                     h("td", { colspan: columns.length }, box));
    showRuns(state, false);
  }

  function setOpen(state, open) {
    state.open = open;
    var row = rowOf(state);
    row.querySelector("button.expand").setAttribute("aria-expanded", String(open));
    if (open) {
      if (!state.detail) buildDetail(state);
      if (row.parentNode) row.after(state.detail);
    } else if (state.detail) {
      state.detail.remove();
    }
  }

  tbody.addEventListener("click", function (event) {
    var row = event.target.closest("tr.cell");
    if (!row || event.target.closest("a")) return;
    // Selecting text in a row is not a request to expand it.
    if (!event.target.closest("button") && String(window.getSelection()).length) return;
    var state = states[Number(row.getAttribute("data-i"))];
    setOpen(state, !state.open);
  });

  // ---- printing: what is filtered in, expanded when that stays a reasonable size

  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) {
      d.open = true;
    });
    if (matching.length > PRINT_CELLS) return;
    limit = Math.max(limit, matching.length);
    var runs = matching.reduce(function (n, s) { return n + s.cell.run_indices.length; }, 0);
    if (runs <= PRINT_RUNS) {
      matching.forEach(function (state) {
        if (!state.detail) buildDetail(state);
        showRuns(state, true);
        state.open = true;
        rowOf(state).querySelector("button.expand").setAttribute("aria-expanded", "true");
      });
    }
    render();
  });

  // A phone shows a few cards at a time: the failing ones come first, so that the first
  // is in view without scrolling. Wider screens keep the report's order.
  var facts = document.getElementById("facts");
  var whereFacts = document.getElementById("where-facts");
  function foldFacts(folded) {
    facts.classList.toggle("folded", folded);
    whereFacts.setAttribute("aria-expanded", String(!folded));
  }
  whereFacts.addEventListener("click", function () {
    foldFacts(!facts.classList.contains("folded"));
  });

  if (window.matchMedia("screen and (max-width: 40rem)").matches) {
    foldFacts(true); // one tap away, under "When and where it ran"
    sortBy("met", false);
  } else {
    filter();
  }
})();
