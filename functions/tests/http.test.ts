import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import { newBackend } from "./backend";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("HTTP actions", () => {
  test("POST /basic answers {hello: world}", async () => {
    const t = newBackend();
    const response = await t.fetch("/basic", { method: "POST" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/application\/json/);
    expect(await response.json()).toEqual({ hello: "world" });
  });

  test("POST /streaming sends two chunks about 20 ms apart", async () => {
    const t = newBackend();
    const response = await t.fetch("/streaming", { method: "POST" });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    const chunks: string[] = [];
    const arrivals: number[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(decoder.decode(value));
      arrivals.push(performance.now());
    }
    expect(chunks.join("")).toBe("<html></html>");
    expect(chunks.length).toBe(2);
    // Timers may fire a millisecond early.
    expect(arrivals[1] - arrivals[0]).toBeGreaterThanOrEqual(15);
  });

  test("GET /basic is not routed", async () => {
    const t = newBackend();
    const response = await t.fetch("/basic", { method: "GET" });
    expect(response.status).toBe(404);
  });
});

describe("http:siteUrl", () => {
  test("returns CONVEX_SITE_URL, with or without a cacheBreaker", async () => {
    vi.stubEnv("CONVEX_SITE_URL", "http://127.0.0.1:3211");
    const t = newBackend();
    expect(await t.query(api.http.siteUrl, {})).toBe("http://127.0.0.1:3211");
    expect(await t.query(api.http.siteUrl, { cacheBreaker: 5 })).toBe(
      "http://127.0.0.1:3211",
    );
  });

  test("says so when CONVEX_SITE_URL is unset", async () => {
    vi.stubEnv("CONVEX_SITE_URL", undefined);
    const t = newBackend();
    await expect(t.query(api.http.siteUrl, {})).rejects.toThrow(
      /CONVEX_SITE_URL/,
    );
  });
});
