// Browser tests of the status page: headless Debian chromium driven by
// playwright-core against a real kilnd with real workers, a real git
// repository and signed push webhooks.  Run by tests/browser/run.sh
// (make check-browser).  Usage: node web.mjs BINDIR SCREENSHOT_DIR
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const [bindir, shots] = process.argv.slice(2);
const CHROMIUM = process.env.KILN_CHROMIUM || "/usr/bin/chromium";
const XSS_BRANCH = "<img/src=x/onerror=alert(1)>";
const XSS_LINE = "<script>document.title='x'</script>";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-browser-"));
fs.chmodSync(dir, 0o755);
const shared = path.join(dir, "shared");
fs.mkdirSync(shared, { mode: 0o1777 });
fs.chmodSync(shared, 0o1777);
fs.mkdirSync(shots, { recursive: true });
let kilnd = null, browser = null, failures = 0, passed = 0;

function log(...a) { console.log("[browser]", ...a); }

async function freePort() {
  return new Promise((res) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
  });
}

async function waitFor(what, fn, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { /* retry */ }
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function git(cwd, ...args) {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: Object.assign({}, process.env, {
    GIT_CONFIG_NOSYSTEM: "1", HOME: dir, GIT_AUTHOR_NAME: "kiln test", GIT_AUTHOR_EMAIL: "t@kiln.invalid",
    GIT_COMMITTER_NAME: "kiln test", GIT_COMMITTER_EMAIL: "t@kiln.invalid" }) }).trim();
}

function cictl(...args) {
  return execFileSync(path.join(bindir, "cictl"), ["-c", path.join(dir, "kiln.conf"), ...args],
    { encoding: "utf8" });
}

async function main() {
  const port = await freePort();
  const base = "http://127.0.0.1:" + port;
  fs.writeFileSync(path.join(dir, "kiln.conf"),
    `[server]\nlisten = 127.0.0.1:${port}\nstate_dir = ${dir}/state\n[workers]\ncount = 3\n[web]\naccess = token\n`);
  const out = fs.openSync(path.join(dir, "kilnd.log"), "a");
  kilnd = spawn(path.join(bindir, "kilnd"), ["-c", path.join(dir, "kiln.conf")],
    { stdio: ["ignore", out, out], cwd: dir });
  await waitFor("kilnd /healthz", async () => (await fetch(base + "/healthz")).ok, 90000);
  log("kilnd up on", base);

  // A repository: bare + work tree, registered with its webhook secret.
  const bare = path.join(dir, "octo-web.git"), work = path.join(dir, "work");
  git(dir, "init", "-q", "--bare", bare);
  git(dir, "init", "-q", "-b", "main", work);
  fs.writeFileSync(path.join(dir, "secret"), "browsersecret");
  cictl("repo", "add", "octo/web", "--url", "file://" + bare, "--secret-file", path.join(dir, "secret"));
  const reader = cictl("token", "create", "reader").trim();
  const admin = cictl("token", "create", "boss", "--scope", "admin").trim();

  let before = "0".repeat(40);
  const shas = {};
  async function push(branch, files, message) {
    for (const [f, c] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(work, f)), { recursive: true });
      fs.writeFileSync(path.join(work, f), c);
    }
    git(work, "add", "-A");
    git(work, "commit", "-q", "-m", message);
    const sha = git(work, "rev-parse", "HEAD");
    git(work, "push", "-q", "-f", bare, "HEAD:refs/heads/" + branch);
    const prev = shas[branch] || before;
    shas[branch] = sha;
    const body = JSON.stringify({
      ref: "refs/heads/" + branch, before: prev, after: sha, created: prev === before,
      deleted: false, forced: false, base_ref: null, compare: "https://github.com/octo/web/compare",
      commits: [{ id: sha, tree_id: sha, distinct: true, message, timestamp: new Date().toISOString(),
        url: "https://github.com/octo/web/commit/" + sha,
        author: { name: "kiln test", email: "t@kiln.invalid", username: "octo" },
        committer: { name: "kiln test", email: "t@kiln.invalid", username: "octo" },
        added: [], removed: [], modified: [] }],
      head_commit: { id: sha, tree_id: sha, distinct: true, message, timestamp: new Date().toISOString(),
        url: "https://github.com/octo/web/commit/" + sha,
        author: { name: "kiln test", email: "t@kiln.invalid", username: "octo" },
        committer: { name: "kiln test", email: "t@kiln.invalid", username: "octo" },
        added: [], removed: [], modified: [] },
      repository: { id: 4242, name: "web", full_name: "octo/web", private: false, fork: false,
        default_branch: "main", clone_url: "file://" + bare, html_url: "https://github.com/octo/web",
        visibility: "public", owner: { login: "octo", name: "octo" } },
      pusher: { name: "octo", email: "t@kiln.invalid" },
      sender: { login: "octo", id: 4243, type: "User" },
    });
    const sig = "sha256=" + crypto.createHmac("sha256", "browsersecret").update(body).digest("hex");
    const r = await fetch(base + "/hooks/github", { method: "POST", body, headers: {
      "Content-Type": "application/json", "X-GitHub-Event": "push",
      "X-GitHub-Delivery": crypto.randomUUID(), "X-Hub-Signature-256": sig,
      "User-Agent": "GitHub-Hookshot/kiln-test" } });
    if (r.status !== 202) throw new Error("webhook answered " + r.status);
    return sha;
  }
  const api = async (p, tok) => {
    const r = await fetch(base + p, { headers: { Authorization: "Bearer " + (tok || reader) } });
    if (!r.ok) throw new Error(p + ": " + r.status);
    return r.json();
  };
  const jobOf = async (sha, name) => waitFor("a job " + name + " of " + sha.slice(0, 7), async () => {
    const runs = await api("/api/v1/runs?limit=50");
    for (const run of runs.filter((x) => x.head_sha === sha)) {
      const full = await api("/api/v1/runs/" + run.id);
      const j = full.jobs.find((x) => x.name === name);
      if (j && j.status !== "queued") return Object.assign({ run_id: run.id }, j);
    }
    return null;
  }, 60000);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });

  async function session(token) {
    const ctx = await browser.newContext({ viewport: { width: 1300, height: 900 } });
    const page = await ctx.newPage();
    page.dialogs = [];
    page.on("dialog", (d) => { page.dialogs.push(d.message()); d.dismiss(); });
    page.errors = [];
    page.on("pageerror", (e) => page.errors.push(String(e)));
    await page.goto(base + "/login");
    await page.fill("input[name=token]", token);
    await Promise.all([page.waitForURL(base + "/"), page.click("button[type=submit]")]);
    return page;
  }

  async function test(name, fn) {
    const t0 = Date.now();
    try { await fn(); passed++; log("ok  ", name, (Date.now() - t0) + " ms"); }
    catch (e) { failures++; log("FAIL", name + ":", e.stack || e); }
  }

  let page, live;

  await test("without a session the API answers 401 under access = token", async () => {
    const r = await fetch(base + "/api/v1/runs");
    if (r.status !== 401) throw new Error("status " + r.status);
  });

  await test("login with a read token shows the dashboard", async () => {
    page = await session(reader);
    await page.waitForSelector("text=octo/web");
    const who = await page.textContent("#who");
    if (!who.includes("reader (read)")) throw new Error("who: " + who);
  });

  await test("a run appears on the dashboard without reload", async () => {
    const wf = [
      "name: live", "on: push", "jobs:", "  build:", "    runs-on: self-hosted", "    steps:",
      "      - run: |",
      "          echo live-$((6*7))-start",
      "          printf '\\033[31mred-text\\033[0m and \\033[1mbold\\033[0m\\n'",
      `          echo "${XSS_LINE}"`,
      "          echo '::group::My group'",
      "          echo inside-the-group",
      "          echo '::endgroup::'",
      `          while [ ! -e ${shared}/go ]; do sleep 0.1; done`,
      "          echo live-$((6*7))-end",
      "  matrix:", "    runs-on: self-hosted", "    needs: build",
      "    strategy:", "      matrix:", "        n: [1, 2, 3]",
      "    steps:", "      - run: echo leg ${{ matrix.n }} > leg.txt",
      "      - uses: actions/upload-artifact@v4",
      "        with: { name: 'leg-${{ matrix.n }}', path: leg.txt }", ""].join("\n");
    const marker = await page.evaluate(() => { window.__kilnMarker = 1; return 1; });
    live = await push("main", { ".github/workflows/live.yml": wf }, "live log");
    await page.waitForSelector(`a[href^="/runs/"]`, { timeout: 30000 });
    if (await page.evaluate(() => window.__kilnMarker) !== marker) throw new Error("the page reloaded");
    await page.screenshot({ path: path.join(shots, "dashboard.png"), fullPage: true });
  });

  let job;
  await test("log lines arrive live while the step still runs", async () => {
    job = await jobOf(live, "build");
    await page.goto(base + "/jobs/" + job.id);
    await page.waitForSelector("#log >> text=live-42-start", { timeout: 30000 });
    if ((await page.textContent("#log")).includes("live-42-end")) throw new Error("live-42-end before go");
    await page.screenshot({ path: path.join(shots, "job-live.png"), fullPage: true });
    fs.writeFileSync(path.join(shared, "go"), "");
    await page.waitForSelector("#log >> text=live-42-end", { timeout: 30000 });
    await page.waitForSelector("h2 >> .s-success", { timeout: 30000 });
    await page.screenshot({ path: path.join(shots, "job-finished.png"), fullPage: true });
  });

  await test("ANSI colours are rendered as classes", async () => {
    const cls = await page.getAttribute("#log span.f31", "class");
    if (!cls || !(await page.textContent("#log span.f31")).includes("red-text")) throw new Error("no red span");
    if (!(await page.$("#log span.b"))) throw new Error("no bold span");
  });

  await test("a hostile log line renders as text", async () => {
    await page.waitForSelector("#log >> text=" + JSON.stringify(XSS_LINE));
    if (await page.title() !== "kiln") throw new Error("title changed: " + await page.title());
    if (page.dialogs.length) throw new Error("dialog: " + page.dialogs);
    if (await page.$("#log script")) throw new Error("a script element in the log");
  });

  await test("a group folds and unfolds", async () => {
    const d = await page.$("#log details:has(summary:has-text('My group'))");
    if (!d) throw new Error("no group");
    if (!(await d.evaluate((x) => x.open))) throw new Error("group not open at first");
    await (await d.$("summary")).click();
    if (await d.evaluate((x) => x.open)) throw new Error("did not fold");
    await (await d.$("summary")).click();
    if (!(await d.evaluate((x) => x.open))) throw new Error("did not unfold");
  });

  await test("a line link scrolls to and highlights its line", async () => {
    const n = await page.evaluate(() => {
      const all = [...document.querySelectorAll("#log .ln")];
      const x = all.find((e) => e.textContent.includes("live-42-end"));
      return x.id.slice(1);
    });
    await page.goto(base + "/jobs/" + job.id + "#L" + n);
    await page.waitForSelector("#L" + n + ".hl", { timeout: 10000 });
    const inView = await page.$eval("#L" + n, (e) => {
      const r = e.getBoundingClientRect(), b = document.getElementById("log").getBoundingClientRect();
      return r.top >= b.top && r.bottom <= b.bottom;
    });
    if (!inView) throw new Error("line not scrolled into view");
  });

  await test("the run page groups matrix legs under their job by needs", async () => {
    await page.goto(base + "/runs/" + job.run_id);
    await page.waitForSelector("[data-job-key=matrix] .legs", { timeout: 30000 });
    const legs = await page.$$("[data-job-key=matrix] .legs > div");
    if (legs.length !== 3) throw new Error(legs.length + " legs");
    const cols = await page.$$(".graph > .col");
    if (cols.length !== 2) throw new Error(cols.length + " columns");
    await page.screenshot({ path: path.join(shots, "run.png"), fullPage: true });
    if (await page.$("button[data-act]")) throw new Error("a read session sees action buttons");
  });

  await test("the run page lists its artifacts, each a zip link", async () => {
    await page.goto(base + "/runs/" + job.run_id);
    await page.waitForFunction(() => document.querySelectorAll(".artifacts li").length === 3,
      null, { timeout: 30000 });
    const links = await page.$$eval(".artifacts a", (as) => as.map((a) => a.textContent + " " + a.getAttribute("href")));
    if (!links.every((l) => /^leg-[123] \/api\/v1\/artifacts\/\d+\/zip$/.test(l)))
      throw new Error("artifact links: " + links.join(", "));
    const r = await page.evaluate(async (href) => {
      const x = await fetch(href, { credentials: "same-origin" });
      return x.status + " " + x.headers.get("content-type");
    }, links[0].split(" ")[1]);
    if (r !== "200 application/zip") throw new Error("the zip from the page's session: " + r);
  });

  await test("a hostile branch name renders as text", async () => {
    await push(XSS_BRANCH, { "README": "xss\n" }, "xss branch");
    await page.goto(base + "/");
    await page.waitForSelector("td >> text=" + JSON.stringify(XSS_BRANCH), { timeout: 30000 });
    await page.goto(base + "/repos/octo/web");
    await page.waitForSelector("td >> text=" + JSON.stringify(XSS_BRANCH), { timeout: 30000 });
    if (page.dialogs.length) throw new Error("dialog: " + page.dialogs);
    if (await page.title() !== "kiln") throw new Error("title changed");
    if (await page.$("img")) throw new Error("an img element was made");
  });

  await test("a 100 MB log opens within 2 s; scrolling up fetches earlier text", async () => {
    const wf = ["name: big", "on: push", "jobs:", "  big:", "    runs-on: self-hosted", "    steps:",
      "      - run: |",
      "          i=0; while [ $i -lt 20 ]; do echo \"first-line-marker $i\"; i=$((i+1)); done",
      "          yes 'a long line of log text to make one hundred megabytes 0123456789' | head -c 100000000",
      "          echo big-$((1+1))-done", ""].join("\n");
    const sha = await push("big", { ".github/workflows/big.yml": wf }, "big log");
    const big = await jobOf(sha, "big");
    await waitFor("the big job to finish", async () => (await api("/api/v1/jobs/" + big.id)).status === "completed", 240000);
    const head = await fetch(base + "/api/v1/jobs/" + big.id + "/logs", { method: "HEAD",
      headers: { Authorization: "Bearer " + reader } });
    const size = parseInt(head.headers.get("X-Log-Size"), 10);
    if (!(size >= 100000000)) throw new Error("the big log has " + size + " bytes");
    const t0 = Date.now();
    await page.goto(base + "/jobs/" + big.id);
    await page.waitForSelector("#log >> text=big-2-done", { timeout: 10000 });
    const ms = Date.now() - t0;
    if (ms > 2000) throw new Error("opened in " + ms + " ms");
    log("     100 MB log opened in", ms, "ms");
    const n0 = await page.$$eval("#log .ln", (x) => x.length);
    await page.$eval("#log", (b) => { b.scrollTop = 0; b.dispatchEvent(new Event("scroll")); });
    await waitFor("earlier text", async () => (await page.$$eval("#log .ln", (x) => x.length)) > n0, 10000);
  });

  await test("an admin login cancels a running job; a read login has no Cancel", async () => {
    const wf = ["name: slow", "on: push", "jobs:", "  slow:", "    runs-on: self-hosted", "    steps:",
      "      - run: echo slow-$((2+2))-start; sleep 600", ""].join("\n");
    const sha = await push("slow", { ".github/workflows/slow.yml": wf }, "slow");
    const slow = await jobOf(sha, "slow");
    await page.goto(base + "/jobs/" + slow.id);
    await page.waitForSelector("#log >> text=slow-4-start", { timeout: 30000 });
    if (await page.$("button[data-act=cancel]")) throw new Error("Cancel offered to a read token");
    const boss = await session(admin);
    await boss.goto(base + "/jobs/" + slow.id);
    await boss.click("button[data-act=cancel]", { timeout: 10000 });
    await waitFor("the job cancelled", async () => (await api("/api/v1/jobs/" + slow.id)).conclusion === "cancelled", 60000);
    await boss.waitForSelector("h2 >> .s-cancelled", { timeout: 30000 });
  });

  await test("no script errors on the pages", async () => {
    if (page.errors.length) throw new Error(page.errors.join("; "));
  });
}

let rc = 0;
try { await main(); }
catch (e) { failures++; log("FAIL setup:", e.stack || e); }
finally {
  if (browser) await browser.close();
  if (kilnd) {
    kilnd.kill("SIGTERM");
    await new Promise((r) => { const t = setTimeout(() => { kilnd.kill("SIGKILL"); r(); }, 20000); kilnd.on("exit", () => { clearTimeout(t); r(); }); });
  }
  if (failures) {
    log(`${failures} failure(s); kilnd's log and state kept in ${dir}`);
    try { log(fs.readFileSync(path.join(dir, "kilnd.log"), "utf8").split("\n").slice(-40).join("\n")); } catch (e) { /* none */ }
    rc = 1;
  } else {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  log(`${passed} passed, ${failures} failed; screenshots in ${shots}`);
}
process.exit(rc);
