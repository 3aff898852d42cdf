// Starts the testbed binary on free ports and hands back its URL and key.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";

const workspace = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

function testbedBinary() {
  const candidates = [
    process.env.TESTBED_BIN,
    path.join(workspace, "target/release/testbed"),
  ].filter(Boolean);
  for (const candidate of candidates) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(
    `testbed binary not found (looked at ${candidates.join(", ")}); ` +
      "build it with `cargo build -p testbed --release` or set TESTBED_BIN",
  );
}

/** Resolves to { url, siteUrl, adminKey, stop() } once the testbed is ready. */
export function startTestbed() {
  const child = spawn(testbedBinary(), ["--port", "0", "--site-port", "0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error("testbed did not print its ready line within 20 s"));
    }, 20_000);
    let ready = null;
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`testbed exited early with code ${code}`));
    });
    lines.on("line", (line) => {
      const match = /^testbed ready url=(\S+) site_url=(\S+)$/.exec(line);
      if (match) {
        ready = { url: match[1], siteUrl: match[2] };
        return;
      }
      const key = /^admin_key=(\S+)$/.exec(line);
      if (key && ready) {
        clearTimeout(timer);
        resolve({
          ...ready,
          adminKey: key[1],
          stop: () =>
            new Promise((done) => {
              child.once("exit", (code, signal) => done({ code, signal }));
              child.kill("SIGTERM");
            }),
        });
      }
    });
  });
}

export async function stats(url) {
  const response = await fetch(`${url}/_testbed/stats`);
  return response.json();
}
