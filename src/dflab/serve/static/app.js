// The dflab web UI: plain JavaScript over the REST API (/v1), no external assets. Pages are chosen by the
// address's #fragment so the browser's back button and bookmarks work: #/ scan, #/scan/ID result, #/history,
// #/verify, #/trace. Every text from the server goes in with textContent (never innerHTML).
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : `${response.status} ${response.statusText}`;
    const error = new Error(response.status === 401 ? `${detail} (open the link dflab serve printed)` : detail);
    error.status = response.status;
    throw error;
  }
  return body;
}

function say(id, text, isError = false) {
  const box = $(id);
  box.textContent = text;
  box.classList.toggle("error", isError);
}

function badge(word) {
  return el("span", { class: `badge ${word}`, text: word });
}

function fmt(value, digits = 2) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function ranges(list) {
  return (list || []).slice(0, 6).map(([a, b]) => `${fmt(a, 1)}–${fmt(b, 1)} s`).join(", ");
}

function table(headers, rows) {
  const head = el("tr", {}, ...headers.map((h) => el("th", { scope: "col", text: h })));
  const body = rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c instanceof Node ? c : String(c)))));
  return el("div", { class: "tablewrap" }, el("table", {}, el("thead", {}, head), el("tbody", {}, ...body)));
}

// --- drag and drop onto any .drop box -------------------------------------------------------------------

for (const drop of document.querySelectorAll(".drop")) {
  const input = drop.querySelector("input[type=file]");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      input.dispatchEvent(new Event("change"));
    }
  });
}
$("scan-file").addEventListener("change", () => {
  const file = $("scan-file").files[0];
  $("scan-file-name").textContent = file ? `${file.name} (${(file.size / 1048576).toFixed(1)} MB)` : "";
});

// --- scan ---------------------------------------------------------------------------------------------

$("scan-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData();
  const file = $("scan-file").files[0];
  if (!file) return say("scan-status", "Choose a file first.", true);
  form.append("file", file);
  if ($("scan-point").value) form.append("operating_point", $("scan-point").value);
  if ($("scan-reference").files[0]) form.append("reference", $("scan-reference").files[0]);
  $("scan-submit").disabled = true;
  say("scan-status", `Uploading ${file.name}…`);
  try {
    const accepted = await upload("/v1/scans", form, (fraction) => {
      $("upload-progress").hidden = false;
      $("upload-progress").value = fraction;
      say("scan-status", `Uploading ${file.name}: ${Math.round(fraction * 100)} %`);
    });
    say("scan-status", accepted.from_cache ? "This file was scanned before with the same options." : "Queued.");
    location.hash = `#/scan/${accepted.id}`;
  } catch (error) {
    say("scan-status", error.message, true);
  } finally {
    $("scan-submit").disabled = false;
    $("upload-progress").hidden = true;
  }
});

function upload(url, form, onProgress) {
  // fetch() cannot report upload progress; XMLHttpRequest can, which matters for large videos.
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url);
    request.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    request.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(request.responseText); } catch (_) { /* not JSON: use the status line */ }
      if (request.status >= 200 && request.status < 300) resolve(body);
      else {
        const detail = body && body.detail ? body.detail : `${request.status} ${request.statusText}`;
        reject(new Error(request.status === 401 ? `${detail} (open the link dflab serve printed)` : detail));
      }
    });
    request.addEventListener("error", () => reject(new Error("the upload did not reach the server")));
    request.send(form);
  });
}

let polling = null;

async function showScan(id) {
  clearTimeout(polling);
  const body = $("result-body");
  body.replaceChildren();
  $("result-state").textContent = "Loading…";
  try {
    const scan = await api(`/v1/scans/${encodeURIComponent(id)}`);
    $("result-title").textContent = scan.filename;
    if (scan.state === "queued" || scan.state === "running") {
      const stage = scan.progress.stage || scan.state;
      $("result-state").replaceChildren(badge(scan.state), ` ${stage}`);
      body.append(el("label", { for: "result-progress", text: `${Math.round(scan.progress.fraction * 100)} %` }),
                  el("progress", { id: "result-progress", max: "1", value: String(scan.progress.fraction) }));
      polling = setTimeout(() => { if (location.hash === `#/scan/${id}`) showScan(id); }, 1000);
      return;
    }
    if (scan.state === "failed") {
      $("result-state").replaceChildren(badge("failed"), ` ${scan.error || ""}`);
      return;
    }
    $("result-state").textContent = "";
    renderResult(scan, body);
  } catch (error) {
    $("result-state").textContent = error.message;
  }
}

function renderResult(scan, body) {
  const r = scan.result;
  body.append(
    el("p", { class: "verdict", id: "verdict" }, badge(r.verdict), el("span", { text: `score ${fmt(r.score)}` }),
       el("span", { class: "muted", text: r.media_type })),
    el("p", { text: r.summary }),
    el("p", {}, el("a", { href: scan.report_url, target: "_blank", rel: "noopener", id: "report-link",
                          text: "Open the full report" })),
  );
  body.append(el("h3", { text: "Findings" }), table(["finding", "verdict", "score", "why", "when"],
    (r.findings || []).map((f) => [f.name, badge(f.verdict), fmt(f.score), f.summary, ranges(f.time_ranges)])));
  if (r.timeline && r.timeline.times && r.timeline.times.length > 1) {
    body.append(el("h3", { text: "Score over time" }), timeline(r.timeline));
  }
  const frames = el("div", { class: "frames", id: "keyframes" });
  body.append(el("h3", { text: "Key frames" }), frames);
  api(scan.keyframes_url).then((list) => {
    if (!list.length) frames.append(el("p", { class: "muted", text: "No key frames (audio)." }));
    for (const f of list.slice(0, 6)) {
      frames.append(el("figure", {}, el("img", { src: f.url, alt: `frame at ${fmt(f.time_s, 2)} s`, loading: "lazy",
                                                 width: String(f.width), height: String(f.height) }),
                       el("figcaption", { text: `${fmt(f.time_s, 2)} s` })));
    }
  }).catch(() => {});
  const evidence = [...(r.evidence || [])].sort((a, b) => Math.abs(b.score - 0.5) * b.confidence - Math.abs(a.score - 0.5) * a.confidence);
  body.append(el("h3", { text: "Evidence" }), table(["cue", "score", "confidence", "what it saw"],
    evidence.map((e) => [e.name, fmt(e.score), fmt(e.confidence), e.summary])));
  if ((r.faces || []).length) {
    body.append(el("h3", { text: "Faces" }), table(["face", "verdict", "score", "time"],
      r.faces.map((f) => [`#${f.track_id}`, badge(f.verdict), fmt(f.score), ranges([f.time_range])])));
  }
}

function timeline({ times, scores }) {
  // An inline SVG line: time on x, manipulation score 0..1 on y, with the 0.5 line for reference.
  const w = 600, h = 150, pad = 24;
  const t0 = times[0], t1 = times[times.length - 1] || 1;
  const x = (t) => pad + ((t - t0) / Math.max(1e-9, t1 - t0)) * (w - 2 * pad);
  const y = (s) => h - pad - s * (h - 2 * pad);
  const points = times.map((t, i) => `${x(t).toFixed(1)},${y(scores[i] ?? 0.5).toFixed(1)}`).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("class", "timeline");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `score over time, from ${fmt(t0, 1)} to ${fmt(t1, 1)} s, highest ${fmt(Math.max(...scores))}`);
  svg.innerHTML = `<line x1="${pad}" x2="${w - pad}" y1="${y(0.5)}" y2="${y(0.5)}" stroke="#bbb" stroke-dasharray="4"/>` +
    `<polyline fill="none" stroke="#0b57d0" stroke-width="2" points="${points}"/>` +
    `<text x="${pad}" y="${h - 6}" font-size="11">${fmt(t0, 1)} s</text>` +
    `<text x="${w - pad - 40}" y="${h - 6}" font-size="11">${fmt(t1, 1)} s</text>`;
  return svg;
}

// --- history ------------------------------------------------------------------------------------------

let historyCursor = null;

async function showHistory(more = false) {
  const rows = $("history-rows");
  if (!more) { rows.replaceChildren(); historyCursor = null; }
  try {
    const page = await api(`/v1/scans?limit=20${historyCursor ? `&cursor=${encodeURIComponent(historyCursor)}` : ""}`);
    for (const s of page.scans) {
      rows.append(el("tr", {},
        el("td", {}, el("a", { href: `#/scan/${s.id}`, text: s.filename })),
        el("td", {}, badge(s.state)),
        el("td", {}, s.verdict ? badge(s.verdict) : "–"),
        el("td", { text: new Date(s.created_at * 1000).toLocaleString() })));
    }
    if (!rows.children.length) rows.append(el("tr", {}, el("td", { colspan: "4", text: "No scans yet." })));
    historyCursor = page.next_cursor;
    $("history-more").hidden = !historyCursor;
  } catch (error) {
    rows.replaceChildren(el("tr", {}, el("td", { colspan: "4", text: error.message })));
  }
}
$("history-more").addEventListener("click", () => showHistory(true));

// --- verify and trace ---------------------------------------------------------------------------------

function facts(pairs) {
  const list = el("dl", { class: "facts" });
  for (const [name, value] of pairs) list.append(el("dt", { text: name }), el("dd", {}, value instanceof Node ? value : String(value ?? "–")));
  return list;
}

async function postFile(inputId, url, statusId) {
  const file = $(inputId).files[0];
  if (!file) { say(statusId, "Choose a file first.", true); return null; }
  const form = new FormData();
  form.append("file", file);
  say(statusId, `Checking ${file.name}…`);
  try {
    const doc = await api(url, { method: "POST", body: form });
    say(statusId, "");
    return doc;
  } catch (error) {
    say(statusId, error.message, true);
    return null;
  }
}

$("verify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = $("verify-body");
  body.replaceChildren();
  const v = await postFile("verify-file", "/v1/verify", "verify-status");
  if (!v) return;
  const c = v.c2pa || {}, w = v.watermark || {}, signer = c.signer || {};
  body.append(
    el("p", { class: "verdict", id: "verify-verdict" }, badge(v.verdict), el("span", { text: v.summary })),
    el("h3", { text: "C2PA manifest" }),
    facts([["state", c.state || (c.manifest ? "present" : "no manifest")],
           ["signer", signer.common_name ? `${signer.common_name} (issued by ${signer.issuer || "?"})` : "–"],
           ["generated (AI)", v.synthetic === null ? "not stated" : v.synthetic ? "yes" : "no"],
           ["actions", (c.actions || []).map((a) => a.action).join(", ") || "–"],
           ["ingredients", (c.ingredients || []).map((i) => i.title || i.relationship || "ingredient").join(", ") || "none"]]),
    el("h3", { text: "Watermark" }),
    facts([["found", w.detected ? "yes" : "no"], ["payload", w.payload || "–"], ["ledger record", w.record ?? "–"]]),
    el("h3", { text: "Ledger" }),
  );
  const records = (v.ledger && v.ledger.records) || [];
  body.append(records.length ? table(["record", "action", "proof checked", "tree size", "named by"],
    records.map((r) => [r.record, (r.entry || {}).action || "–", r.verified ? "✓ verified" : "✗ not verified",
                        r.tree_size ?? "–", (r.named_by || []).join(", ")]))
    : el("p", { class: "muted", text: "No ledger record is named by this file." }));
  if ((v.problems || []).length) {
    body.append(el("h3", { text: "Problems" }), el("ul", {}, ...v.problems.map((p) => el("li", { text: p }))));
  }
});

$("trace-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = $("trace-body");
  body.replaceChildren();
  const t = await postFile("trace-file", "/v1/trace", "trace-status");
  if (!t) return;
  if (!t.matches.length) {
    body.append(el("p", { id: "trace-summary", text: "No registered original matches this file." }));
    return;
  }
  body.append(el("p", { id: "trace-summary", text: `${t.matches.length} registered original(s), best first.` }),
    table(["record", "original", "type", "distance", "time ranges (copy ← original)"],
      t.matches.map((m) => [m.record, m.path, m.media_type, m.distance ?? `audio score ${m.score}`,
        (m.time_ranges || []).map(([q0, q1, o0, o1]) => `${fmt(q0, 1)}–${fmt(q1, 1)} s ← ${fmt(o0, 1)}–${fmt(o1, 1)} s`).join("; ") || "whole picture"])));
});

// --- pages --------------------------------------------------------------------------------------------

function route() {
  const hash = location.hash || "#/";
  const [, page, id] = hash.match(/^#\/?([a-z]*)\/?(.*)$/) || [];
  const name = { "": "scan", scan: id ? "result" : "scan", history: "history", verify: "verify", trace: "trace" }[page] || "scan";
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== `page-${name}`;
  for (const link of document.querySelectorAll("nav a")) {
    const current = link.getAttribute("href") === `#/${name === "scan" || name === "result" ? "" : name}`;
    if (current) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  if (name === "result") showScan(decodeURIComponent(id));
  if (name === "history") showHistory();
  const heading = document.querySelector(`#page-${name} h2`);
  if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: true }); }
}
window.addEventListener("hashchange", route);
route();
