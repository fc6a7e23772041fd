// kiln status page: one script, no framework, no build step.  Every text
// from outside (names, branches, messages, log lines) enters the page
// through textContent or createTextNode, never as HTML.
"use strict";

const $main = () => document.getElementById("main");
// The page's content; null and undefined leave nothing (DOM would say "null").
const show = (...kids) => $main().replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined));
let session = null;		// {scope, name, csrf} or null
let refresh = null;		// re-render of the current page on a change
let stream = null;		// the status EventSource
let logSource = null;		// a job page's live log

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined) continue;
    e.appendChild(typeof k === "string" || typeof k === "number" ?
      document.createTextNode(String(k)) : k);
  }
  return e;
}

function ago(ts) {
  if (!ts) return "";
  const s = Math.max(0, (Date.now() - Date.parse(ts)) / 1000);
  if (s < 60) return Math.floor(s) + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h ago";
  return Math.floor(s / 86400) + " d ago";
}

function when(ts) {
  return ts ? el("time", { datetime: ts, title: new Date(ts).toString() },
    ago(ts)) : el("span", { class: "muted" }, "-");
}

function dur(a, b) {
  if (!a) return "";
  const s = Math.max(0, ((b ? Date.parse(b) : Date.now()) - Date.parse(a)) / 1000);
  if (s < 60) return Math.round(s) + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + Math.round(s % 60) + "s";
  return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
}

function state(o) {
  const s = o.status === "completed" ? (o.conclusion || "completed") : o.status;
  return el("span", { class: "status s-" + s }, s.replace("_", " "));
}

async function api(path, opts) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin" }, opts || {}));
  if (r.status === 401) { location.assign("/login"); throw new Error("login"); }
  if (!r.ok) {
    let msg = "HTTP " + r.status;
    try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return r;
}

const json = async (p) => (await api(p)).json();

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json",
      "X-CSRF-Token": session ? session.csrf : "" },
    body: JSON.stringify(body || {}),
  });
  let j = {};
  try { j = await r.json(); } catch (e) { /* empty */ }
  if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
  return j;
}

function crumbs(...parts) {
  const c = document.getElementById("crumbs");
  c.textContent = "";
  parts.forEach((p, i) => {
    if (i) c.appendChild(document.createTextNode(" / "));
    c.appendChild(p[1] ? el("a", { href: p[1] }, p[0]) : el("span", {}, p[0]));
  });
}

function who() {
  const w = document.getElementById("who");
  w.textContent = "";
  if (session) {
    w.appendChild(document.createTextNode(session.name + " (" + session.scope + ") "));
    w.appendChild(el("button", { onclick: async () => {
      await fetch("/api/v1/session", { method: "DELETE", credentials: "same-origin",
        headers: { "X-CSRF-Token": session.csrf } });
      location.assign("/login");
    } }, "Log out"));
  } else {
    w.appendChild(el("a", { href: "/login" }, "Log in"));
  }
}

function admin() { return session && session.scope === "admin"; }

function actionButton(label, path, body) {
  const b = el("button", { class: "act", "data-act": label.toLowerCase() }, label);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try { await post(path, body); if (refresh) refresh(); }
    catch (e) { alert(label + ": " + e.message); }
    b.disabled = false;
  });
  return b;
}

// ---- pages ----

async function pageLogin() {
  crumbs(["log in"]);
  const failed = new URLSearchParams(location.search).get("failed");
  show(
    el("form", { class: "login", method: "post", action: "/api/v1/session" },
      el("h2", {}, "Log in"),
      el("p", { class: "muted" }, "Paste a token from `cictl token create NAME`."),
      failed ? el("p", { class: "err" }, "Unknown or revoked token.") : null,
      el("input", { name: "token", type: "password", autocomplete: "off",
        placeholder: "kiln_...", required: "" }),
      el("button", { type: "submit" }, "Log in")));
}

async function pageDashboard() {
  crumbs(["repositories"]);
  const [repos, runs] = await Promise.all([json("/api/v1/repos"),
    json("/api/v1/runs?limit=500")]);
  const latest = new Map();
  for (const r of runs) {
    const k = r.repository + "\u0000" + (r.head_branch || "");
    if (!latest.has(k)) latest.set(k, r);
  }
  const rows = [];
  for (const repo of repos) {
    const mine = [...latest.values()].filter((r) => r.repository === repo.full_name);
    const link = el("a", { href: "/repos/" + repo.full_name }, repo.full_name);
    if (mine.length === 0) {
      rows.push(el("tr", {}, el("td", {}, link), el("td", { class: "muted", colspan: 5 }, "no runs yet")));
      continue;
    }
    mine.forEach((r, i) => rows.push(el("tr", { class: "run", "data-run": r.id },
      el("td", {}, i === 0 ? link : ""),
      el("td", {}, r.head_branch || ""),
      el("td", {}, state(r)),
      el("td", {}, el("a", { href: "/runs/" + r.id }, r.display_title || r.name)),
      el("td", {}, dur(r.created_at, r.status === "completed" ? r.updated_at : null)),
      el("td", {}, when(r.created_at)))));
  }
  show(el("h2", {}, "Repositories"),
    el("table", {}, el("thead", {}, el("tr", {}, ["Repository", "Branch", "Status",
      "Latest run", "Duration", "Started"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows)));
}

async function pageRuns(owner, name, before) {
  const full = owner + "/" + name;
  crumbs(["repositories", "/"], [full]);
  const q = new URLSearchParams(location.search);
  const p = new URLSearchParams({ repo: full, limit: "50" });
  for (const f of ["branch", "event", "status"]) if (q.get(f)) p.set(f, q.get(f));
  if (q.get("before")) p.set("before", q.get("before"));
  const r = await api("/api/v1/runs?" + p.toString());
  const runs = await r.json();
  const next = (r.headers.get("Link") || "").match(/before=(\d+)/);
  const filt = el("form", { class: "filters", method: "get" },
    el("input", { name: "branch", placeholder: "branch", value: q.get("branch") || "" }),
    el("input", { name: "event", placeholder: "event", value: q.get("event") || "" }),
    el("select", { name: "status" }, ["", "queued", "in_progress", "completed",
      "success", "failure", "cancelled", "skipped"].map((s) =>
      el("option", { value: s, selected: q.get("status") === s ? "" : null }, s || "any status"))),
    el("button", { type: "submit" }, "Filter"));
  const rows = runs.map((x) => el("tr", { class: "run", "data-run": x.id },
    el("td", {}, state(x)),
    el("td", {}, el("a", { href: "/runs/" + x.id }, "#" + x.run_number + " " +
      (x.display_title || x.name))),
    el("td", {}, x.name),
    el("td", {}, x.head_branch || ""),
    el("td", {}, el("code", {}, (x.head_sha || "").slice(0, 7)), " ",
      el("span", { class: "muted" }, ((x.message || "").split("\n")[0]))),
    el("td", {}, x.event),
    el("td", {}, dur(x.created_at, x.status === "completed" ? x.updated_at : null)),
    el("td", {}, when(x.created_at))));
  const more = next ? (() => { const n = new URLSearchParams(q); n.set("before", next[1]);
    return el("p", {}, el("a", { href: "?" + n.toString(), id: "older" }, "Older runs")); })() : null;
  show(el("h2", {}, full), filt,
    el("table", {}, el("thead", {}, el("tr", {}, ["Status", "Run", "Workflow", "Branch",
      "Commit", "Event", "Duration", "Started"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.length ? rows : [el("tr", {}, el("td", { colspan: 8, class: "muted" }, "no runs"))])),
    more);
}

function depthOf(jobs) {
  const byKey = new Map();
  for (const j of jobs) { if (!byKey.has(j.job_key)) byKey.set(j.job_key, j); }
  const depth = new Map();
  const visit = (k, seen) => {
    if (depth.has(k)) return depth.get(k);
    if (seen.has(k)) return 0;
    seen.add(k);
    const j = byKey.get(k);
    let d = 0;
    for (const n of (j && j.needs) || []) if (byKey.has(n)) d = Math.max(d, visit(n, seen) + 1);
    depth.set(k, d);
    return d;
  };
  for (const k of byKey.keys()) visit(k, new Set());
  return depth;
}

function bytes(n) {
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1048576).toFixed(1) + " MiB";
}

// What the run's jobs uploaded with actions/upload-artifact, or null.
function artifactList(arts) {
  if (!arts || !arts.artifacts.length) return null;
  return el("div", { class: "artifacts" }, el("h3", {}, "Artifacts"),
    el("ul", {}, arts.artifacts.map((a) => el("li", {},
      el("a", { href: "/api/v1/artifacts/" + a.id + "/zip", download: a.name + ".zip" }, a.name),
      " ", el("span", { class: "muted" }, bytes(a.size_bytes) + " \u00b7 " + (a.job || "") +
        " \u00b7 kept until " + (a.expires_at || "").slice(0, 10))))));
}

async function pageRun(id) {
  const [run, arts] = await Promise.all([json("/api/v1/runs/" + encodeURIComponent(id)),
    json("/api/v1/runs/" + encodeURIComponent(id) + "/artifacts")]);
  crumbs(["repositories", "/"], [run.repository, "/repos/" + run.repository],
    ["#" + run.run_number]);
  const groups = new Map();
  for (const j of run.jobs) {
    if (!groups.has(j.job_key)) groups.set(j.job_key, []);
    groups.get(j.job_key).push(j);
  }
  const depth = depthOf(run.jobs);
  const cols = [];
  for (const [key, legs] of groups) {
    const d = depth.get(key) || 0;
    while (cols.length <= d) cols.push(el("div", { class: "col" }));
    const box = el("div", { class: "job", "data-job-key": key });
    if (legs.length === 1 && !legs[0].matrix) {
      const j = legs[0];
      box.append(state(j), " ", el("a", { href: "/jobs/" + j.id }, j.name), " ",
        el("span", { class: "muted" }, dur(j.started_at, j.completed_at)));
      if (j.message) box.append(el("div", { class: "why" }, j.message));
      if (j.needs && j.needs.length) box.append(el("div", { class: "why" }, "needs: " + j.needs.join(", ")));
    } else {
      box.append(el("strong", {}, key), el("span", { class: "muted" }, " (" + legs.length + " legs)"));
      box.append(el("div", { class: "legs" }, legs.map((j) => el("div", {}, state(j), " ",
        el("a", { href: "/jobs/" + j.id }, j.name), " ",
        el("span", { class: "muted" }, dur(j.started_at, j.completed_at)),
        j.message ? el("div", { class: "why" }, j.message) : null))));
    }
    cols[d].append(box);
  }
  const acts = el("p", {});
  if (admin()) {
    if (run.status !== "completed") acts.append(actionButton("Cancel", "/api/v1/runs/" + run.id + "/cancel"));
    else {
      acts.append(actionButton("Re-run all", "/api/v1/runs/" + run.id + "/rerun", { failed_only: false }), " ");
      if (run.conclusion !== "success")
        acts.append(actionButton("Re-run failed", "/api/v1/runs/" + run.id + "/rerun", { failed_only: true }));
    }
  }
  show(
    el("h2", {}, state(run), " ", run.display_title || run.name),
    el("p", { class: "muted" }, run.name + " \u00b7 " + run.event + " \u00b7 " +
      (run.head_branch || run.ref) + " \u00b7 " + (run.head_sha || "").slice(0, 7) +
      " \u00b7 attempt " + run.run_attempt + " \u00b7 ", when(run.created_at)),
    run.message ? el("p", { class: "err" }, run.message) : null,
    acts, el("div", { class: "graph" }, cols), artifactList(arts));
}

// ---- the log ----

const LOG_TAIL = 256 * 1024;	// bytes shown first; earlier ones on scroll

// SGR state -> class names and CSSOM styles (never markup).
function sgr(st, params) {
  const p = params.length ? params.split(";").map((x) => parseInt(x || "0", 10)) : [0];
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === 0) { st.b = st.i = st.u = false; st.fg = st.bg = null; }
    else if (c === 1) st.b = true;
    else if (c === 3) st.i = true;
    else if (c === 4) st.u = true;
    else if (c === 22) st.b = false;
    else if (c === 23) st.i = false;
    else if (c === 24) st.u = false;
    else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97)) st.fg = { cls: "f" + c };
    else if (c === 39) st.fg = null;
    else if (c >= 40 && c <= 47) st.bg = { cls: "b" + c };
    else if (c >= 100 && c <= 107) st.bg = { cls: "b" + (c - 60) };
    else if (c === 49) st.bg = null;
    else if ((c === 38 || c === 48) && p[i + 1] === 5 && i + 2 < p.length) {
      const v = { css: color256(p[i + 2]) };
      if (c === 38) st.fg = v; else st.bg = v;
      i += 2;
    } else if ((c === 38 || c === 48) && p[i + 1] === 2 && i + 4 < p.length) {
      const v = { css: "rgb(" + [p[i + 2], p[i + 3], p[i + 4]].map((x) => Math.min(255, x | 0)).join(",") + ")" };
      if (c === 38) st.fg = v; else st.bg = v;
      i += 4;
    }
  }
}

function color256(n) {
  const base = ["#484f58", "#ff7b72", "#3fb950", "#d29922", "#58a6ff", "#bc8cff", "#39c5cf", "#b1bac4",
    "#6e7681", "#ffa198", "#56d364", "#e3b341", "#79c0ff", "#d2a8ff", "#56d4dd", "#f0f6fc"];
  n = Math.max(0, Math.min(255, n | 0));
  if (n < 16) return base[n];
  if (n >= 232) { const g = 8 + (n - 232) * 10; return "rgb(" + g + "," + g + "," + g + ")"; }
  n -= 16;
  const v = (x) => (x ? 55 + x * 40 : 0);
  return "rgb(" + v(Math.floor(n / 36)) + "," + v(Math.floor(n / 6) % 6) + "," + v(n % 6) + ")";
}

// Append one line's text to parent, coloured.
function ansi(parent, text, st) {
  const re = /\x1b\[([0-9;]*)([A-Za-z])/g;
  let last = 0, m;
  const put = (s) => {
    if (!s) return;
    if (!st.b && !st.i && !st.u && !st.fg && !st.bg) { parent.appendChild(document.createTextNode(s)); return; }
    const sp = document.createElement("span");
    const cls = [];
    if (st.b) cls.push("b");
    if (st.i) cls.push("i");
    if (st.u) cls.push("u");
    if (st.fg && st.fg.cls) cls.push(st.fg.cls);
    if (st.bg && st.bg.cls) cls.push(st.bg.cls);
    sp.className = cls.join(" ");
    if (st.fg && st.fg.css) sp.style.color = st.fg.css;
    if (st.bg && st.bg.css) sp.style.backgroundColor = st.bg.css;
    sp.textContent = s;
    parent.appendChild(sp);
  };
  while ((m = re.exec(text)) !== null) {
    put(text.slice(last, m.index));
    if (m[2] === "m") sgr(st, m[1]);
    last = re.lastIndex;
  }
  // Other control characters show as nothing but never as markup.
  put(text.slice(last).replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ""));
}

class LogView {
  constructor(box, numbered, firstLine) {
    this.box = box;
    this.numbered = numbered;
    this.no = firstLine;		// next line's number
    this.partial = "";		// text after the last newline
    this.st = {};
    this.target = box;		// current group body or the box
    this.follow = true;
    box.addEventListener("scroll", () => {
      this.follow = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
    });
  }

  line(text) {
    const n = this.no++;
    if (text.startsWith("##[group]")) {
      const d = el("details", { open: "" });
      const s = el("summary", { class: "ln", id: this.numbered ? "L" + n : null });
      this.num(s, n);
      ansi(s, text.slice(9), this.st);
      d.append(s, el("div", { class: "grp" }));
      this.box.appendChild(d);
      this.target = d.lastChild;
      return;
    }
    if (text.startsWith("##[endgroup]")) { this.target = this.box; return; }
    const div = el("span", { class: "ln", id: this.numbered ? "L" + n : null });
    this.num(div, n);
    let t = text;
    for (const lv of ["error", "warning", "notice"]) {
      if (t.startsWith("##[" + lv + "]")) {
        t = t.slice(lv.length + 4);
        div.appendChild(el("span", { class: lv === "error" ? "f31 b" : "f33 b" }, lv + ": "));
      }
    }
    ansi(div, t, this.st);
    this.target.appendChild(div);
  }

  num(node, n) {
    if (this.numbered) node.appendChild(el("a", { class: "no", href: "#L" + n }, String(n)));
  }

  write(text) {
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop();
    for (const p of parts) this.line(p.replace(/\r$/, "").replace(/^.*\r/, ""));
    if (this.follow) this.box.scrollTop = this.box.scrollHeight;
  }
}

// A step summary: Markdown rendered by kilnd (raw HTML dropped there).
function summaryBox(jobId, n) {
  const d = el("div", { class: "summary" }, "\u2026");
  api("/api/v1/jobs/" + jobId + "/steps/" + n + "/summary").then((r) => r.text())
    .then((html) => { d.innerHTML = html; })
    .catch((e) => { d.textContent = e.message; });
  return d;
}

// The job's header, annotations and steps (re-rendered as statuses change).
function jobTop(job) {
  const steps = el("div", { class: "steps" }, job.steps.map((s) =>
    el("details", { "data-step": s.number }, el("summary", {}, state(s), " ", s.name, " ",
      el("span", { class: "muted" }, dur(s.started_at, s.completed_at)),
      s.log_line ? el("a", { class: "muted", href: "#L" + s.log_line }, " \u2192 log") : null),
      el("div", { class: "muted" }, "started ", when(s.started_at),
        s.completed_at ? " \u00b7 finished " : "", s.completed_at ? when(s.completed_at) : null),
      s.summary ? summaryBox(job.id, s.number) : null)));
  const anns = job.annotations.map((a) => el("div", { class: "ann " + a.level },
    el("strong", {}, a.level + (a.title ? ": " + a.title : "")), " ",
    a.file ? el("span", { class: "muted" }, a.file + (a.line ? ":" + a.line : "")) : null,
    a.log_line ? el("a", { class: "annlink", href: "#L" + a.log_line }, "log line " + a.log_line) : null,
    el("div", {}, a.message)));
  const acts = el("p", {});
  if (admin() && job.status !== "completed")
    acts.append(actionButton("Cancel", "/api/v1/jobs/" + job.id + "/cancel"));
  return [
    el("h2", {}, state(job), " ", job.name),
    el("p", { class: "muted" }, job.workflow + " \u00b7 " + (job.head_branch || "") +
      " \u00b7 " + (job.head_sha || "").slice(0, 7) + " \u00b7 " + dur(job.started_at, job.completed_at)),
    job.message ? el("p", { class: "err" }, job.message) : null,
    acts, anns, steps].flat().filter((k) => k !== null && k !== undefined);
}

async function pageJob(id) {
  const job = await json("/api/v1/jobs/" + encodeURIComponent(id));
  crumbs(["repositories", "/"], [job.repository, "/repos/" + job.repository],
    ["#" + job.run_number, "/runs/" + job.run_id], [job.name]);
  const box = el("div", { class: "log", id: "log", tabindex: "0" });
  show(el("div", { id: "jobtop" }, jobTop(job)), box);
  await loadLog(job, box);
}

// A status change: the header and steps again, the (streaming) log kept.
async function refreshJobTop(id) {
  const top = document.getElementById("jobtop");
  if (!top) return;
  const job = await json("/api/v1/jobs/" + encodeURIComponent(id));
  const open = new Set([...top.querySelectorAll("details[open]")].map((d) => d.getAttribute("data-step")));
  top.replaceChildren(...jobTop(job));
  for (const d of top.querySelectorAll("details[data-step]"))
    if (open.has(d.getAttribute("data-step"))) d.open = true;
}

// #L12 or #L12-L20: mark those lines and scroll to the first.
function highlight(view) {
  for (const x of document.querySelectorAll("#log .hl")) x.classList.remove("hl");
  if (!location.hash.startsWith("#L")) return;
  const [a, b] = location.hash.slice(2).split("-L").map((x) => parseInt(x, 10));
  for (let n = a; n <= (b || a) && n - a < 100000; n++) {
    const t = document.getElementById("L" + n);
    if (t) t.classList.add("hl");
  }
  const t = document.getElementById("L" + a);
  if (t) {
    view.follow = false;
    for (let p = t.parentElement; p; p = p.parentElement) if (p.tagName === "DETAILS") p.open = true;
    t.scrollIntoView({ block: "center" });
  }
}

async function loadLog(job, box) {
  const base = "/api/v1/jobs/" + job.id + "/logs";
  const head = await api(base, { method: "HEAD" });
  const size = parseInt(head.headers.get("X-Log-Size") || "0", 10);
  let start = size > LOG_TAIL ? size - LOG_TAIL : 0;
  const view = new LogView(box, start === 0, 1);
  if (size > 0) {
    const r = await api(base, { headers: { Range: "bytes=" + start + "-" + (size - 1) } });
    let text = await r.text();
    if (start > 0) {	// from the first whole line
      const nl = text.indexOf("\n");
      start += new TextEncoder().encode(text.slice(0, nl + 1)).length;
      text = text.slice(nl + 1);
      const more = el("a", { class: "more", href: "#", id: "earlier" }, "\u2191 earlier output");
      box.appendChild(more);
      let loading = false;
      const earlier = async () => {
        if (loading || start <= 0) return;
        loading = true;
        const from = Math.max(0, start - LOG_TAIL);
        const rr = await api(base, { headers: { Range: "bytes=" + from + "-" + (start - 1) } });
        let t = await rr.text();
        let newStart = from;
        if (from > 0) {	// again from a whole line
          const nl2 = t.indexOf("\n");
          newStart += new TextEncoder().encode(t.slice(0, nl2 + 1)).length;
          t = t.slice(nl2 + 1);
        }
        const h0 = box.scrollHeight;
        const part = el("div", {});
        const v2 = new LogView(part, false, 1);
        v2.follow = false;
        v2.write(t.endsWith("\n") ? t : t + "\n");
        box.insertBefore(part, more.nextSibling);
        start = newStart;
        if (start <= 0) more.remove();
        box.scrollTop += box.scrollHeight - h0;
        loading = false;
      };
      more.addEventListener("click", (e) => { e.preventDefault(); earlier(); });
      box.addEventListener("scroll", () => { if (box.scrollTop < 40) earlier(); });
    }
    view.write(text);
  }
  highlight(view);
  window.onhashchange = () => highlight(view);
  if (job.status !== "completed" || size === 0) {
    if (logSource) logSource.close();
    logSource = new EventSource(base + "/stream?offset=" + size);
    logSource.addEventListener("log", (e) => view.write(JSON.parse(e.data).text));
    logSource.addEventListener("end", () => {
      logSource.close();
      logSource = null;
      if (view.partial) view.write("\n");
      if (refresh) refresh();
    });
  }
}

// ---- routing and updates ----

async function route() {
  if (logSource) { logSource.close(); logSource = null; }
  const p = location.pathname;
  let m;
  refresh = null;
  try {
    if (p === "/login") return pageLogin();
    if (p === "/" || p === "") { refresh = pageDashboard; return await pageDashboard(); }
    if ((m = p.match(/^\/repos\/([^/]+)\/([^/]+)\/?$/))) {
      refresh = () => pageRuns(decodeURIComponent(m[1]), decodeURIComponent(m[2]));
      return await refresh();
    }
    if ((m = p.match(/^\/runs\/(\d+)$/))) { refresh = () => pageRun(m[1]); return await refresh(); }
    if ((m = p.match(/^\/jobs\/(\d+)$/))) {
      // The job page refreshes its steps, not its log (the stream does).
      refresh = () => refreshJobTop(m[1]);
      return await pageJob(m[1]);
    }
    show(el("p", {}, "No such page."));
  } catch (e) {
    if (e.message !== "login") show(el("p", { class: "err" }, e.message));
  }
}

let pending = null;
function changed() {
  if (!refresh || pending) return;
  pending = setTimeout(async () => {
    pending = null;
    try { await refresh(); } catch (e) { /* the next change retries */ }
  }, 300);
}

function tick() {
  for (const t of document.querySelectorAll("time[datetime]"))
    t.textContent = ago(t.getAttribute("datetime"));
}

async function start() {
  try {
    const r = await fetch("/api/v1/session", { credentials: "same-origin" });
    if (r.ok) session = await r.json();
  } catch (e) { /* not logged in */ }
  who();
  await route();
  if (location.pathname !== "/login") {
    stream = new EventSource("/api/v1/events");
    stream.addEventListener("change", changed);
  }
  setInterval(tick, 10000);
}

document.addEventListener("DOMContentLoaded", start);
