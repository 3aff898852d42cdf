// A fresh in-memory Convex backend (convex-test) holding this project's
// functions and its counter component, for one test.
import { convexTest } from "convex-test";
import type { Doc, TableNames } from "../convex/_generated/dataModel";
import schema from "../convex/schema";
import counterSchema from "../counterComponent/schema";

export const appModules = import.meta.glob("../convex/**/*.ts");
const counterModules = import.meta.glob("../counterComponent/**/*.ts");

export function newBackend() {
  const t = convexTest(schema, appModules);
  t.registerComponent("counter", counterSchema, counterModules);
  return t;
}

export type Backend = ReturnType<typeof newBackend>;

/** Every document of a table, read directly (not through a benchmark function). */
export function allRows<Table extends TableNames>(
  t: Backend,
  table: Table,
): Promise<Doc<Table>[]> {
  return t.run((ctx) => ctx.db.query(table).collect());
}
