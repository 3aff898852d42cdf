// @vitest-environment node
// Holds this project to contract.json: it must export exactly the functions
// and HTTP routes listed there, with the same kinds, runtimes and arguments.
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import contract from "../contract.json";
import { appModules } from "./backend";

type ContractFunction = {
  path: string;
  kind: "query" | "mutation" | "action";
  runtime?: "node";
  args: Record<string, string>;
};

type ValidatorJson = {
  type: string;
  value?: unknown;
  tableName?: string;
};

/** Renders a validator's JSON (as Convex exports it) in contract.json's type grammar. */
function typeOf(validator: ValidatorJson): string {
  switch (validator.type) {
    case "number":
    case "string":
    case "boolean":
      return validator.type;
    case "array":
      return `${typeOf(validator.value as ValidatorJson)}[]`;
    case "id":
      return `id:${validator.tableName}`;
    case "union": {
      const members = validator.value as ValidatorJson[];
      if (members.every((m) => m.type === "id")) {
        return `id:${members.map((m) => m.tableName).join("|")}`;
      }
      if (members.every((m) => m.type === "literal")) {
        return `enum:${members.map((m) => m.value).join("|")}`;
      }
      break;
    }
  }
  throw new Error(`contract.json has no type for validator ${JSON.stringify(validator)}`);
}

function argsOf(exportArgs: string): Record<string, string> {
  const json = JSON.parse(exportArgs) as ValidatorJson;
  if (json.type !== "object") {
    throw new Error(`arguments must be declared with an object validator, got ${exportArgs}`);
  }
  const fields = json.value as Record<string, { fieldType: ValidatorJson; optional: boolean }>;
  return Object.fromEntries(
    Object.entries(fields).map(([name, field]) => [
      name,
      typeOf(field.fieldType) + (field.optional ? "?" : ""),
    ]),
  );
}

type Registered = {
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  exportArgs: () => string;
};

/** Module paths as Convex names them: `../convex/actions/insert.ts` -> `actions/insert`. */
function modulePath(file: string): string {
  return file.replace(/^\.\.\/convex\//, "").replace(/\.ts$/, "");
}

async function exportedFunctions(): Promise<ContractFunction[]> {
  const found: ContractFunction[] = [];
  for (const [file, load] of Object.entries(appModules)) {
    // Generated code and the app's component wiring hold no functions (and
    // convex.config.ts runs only inside the CLI's bundler).
    if (file.includes("/_generated/") || file.endsWith("/convex.config.ts")) continue;
    const source = readFileSync(new URL(file, import.meta.url), "utf8");
    const usesNode = /^\s*["']use node["'];?/.test(source);
    const exports = (await load()) as Record<string, unknown>;
    for (const [name, exported] of Object.entries(exports)) {
      // Registered Convex functions are functions carrying these flags.
      if (typeof exported !== "function") continue;
      const value = exported as unknown as Registered;
      if (!value.isPublic) continue;
      const kind = value.isQuery ? "query" : value.isMutation ? "mutation" : "action";
      found.push({
        path: `${modulePath(file)}:${name}`,
        kind,
        ...(usesNode ? { runtime: "node" as const } : {}),
        args: argsOf(value.exportArgs()),
      });
    }
  }
  return found;
}

const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);

describe("contract.json", () => {
  test("lists each function once, with a canonical module:export path", () => {
    const paths = contract.functions.map((f) => f.path);
    expect(new Set(paths).size).toBe(paths.length);
    for (const path of paths) {
      expect(path).toMatch(/^[A-Za-z0-9_/]+:[A-Za-z0-9_]+$/);
    }
  });

  test("the project exports exactly the contract's functions, kinds, runtimes and args", async () => {
    const exported = (await exportedFunctions()).sort(byPath);
    const listed = contract.functions
      .map(({ path, kind, runtime, args }) => ({
        path,
        kind,
        ...(runtime ? { runtime } : {}),
        args,
      }))
      .sort(byPath);
    expect(exported).toEqual(listed);
  });

  test("the project routes exactly the contract's HTTP routes", async () => {
    const http = (await appModules["../convex/http.ts"]()) as {
      default: { getRoutes(): [string, string, unknown][] };
    };
    const routes = http.default
      .getRoutes()
      .map(([path, method]) => ({ method, path }))
      .sort(byPath);
    const listed = contract.http_routes
      .map(({ method, path }) => ({ method, path }))
      .sort(byPath);
    expect(routes).toEqual(listed);
  });
});
