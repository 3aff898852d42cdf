import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // convex-test runs functions as Convex does: in an edge-like runtime.
    environment: "edge-runtime",
    server: { deps: { inline: ["convex-test"] } },
  },
});
