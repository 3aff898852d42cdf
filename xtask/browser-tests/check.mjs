// Usage: node check.mjs PAGE.html SCREENSHOT.png MIN_CHARTS
// Opens PAGE in headless Chromium (the system's, never a downloaded one),
// fails on any console error, page error or failed request, checks that
// every chart figure holds a drawn SVG, and saves a full-page screenshot.
import { chromium } from "playwright-core";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [page_path, screenshot, minChartsArg] = process.argv.slice(2);
if (!page_path || !screenshot) {
  console.error("usage: node check.mjs PAGE.html SCREENSHOT.png [MIN_CHARTS]");
  process.exit(2);
}
const minCharts = Number(minChartsArg ?? 1);
const executablePath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);
if (!executablePath) {
  console.error("chromium is not installed (.ci/run installs Debian's `chromium`)");
  process.exit(1);
}

const problems = [];
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()}`));
  page.on("request", (req) => {
    if (!req.url().startsWith("file:")) problems.push(`external request: ${req.url()}`);
  });
  await page.goto(pathToFileURL(resolve(page_path)).href, { waitUntil: "load" });
  const charts = await page.$$eval("figure.chart", (figures) =>
    figures.map((f) => {
      const svg = f.querySelector("svg");
      if (!svg) return { ok: false, why: "no svg" };
      const box = svg.getBoundingClientRect();
      const drawn = svg.querySelectorAll("polyline, path, line, rect").length;
      const title = svg.querySelector("text")?.textContent ?? "";
      return { ok: box.width > 100 && box.height > 100 && drawn > 0, why: `${box.width}x${box.height}, ${drawn} shapes`, title };
    }),
  );
  charts.forEach((c, i) => { if (!c.ok) problems.push(`chart ${i} (${c.title}) not drawn: ${c.why}`); });
  if (charts.length < minCharts) problems.push(`expected at least ${minCharts} charts, found ${charts.length}`);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`${page_path}: ${charts.length} charts, screenshot ${screenshot}`);
} finally {
  await browser.close();
}
for (const p of problems) console.error(p);
console.log(`browser check: ${problems.length === 0 ? 1 : 0} passed, ${problems.length === 0 ? 0 : 1} failed`);
process.exit(problems.length === 0 ? 0 : 1);
