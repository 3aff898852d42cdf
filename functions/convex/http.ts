// HTTP actions, served on the deployment's site URL.
import { httpRouter } from "convex/server";
import { v } from "convex/values";
import { httpAction, query } from "./_generated/server";

const http = httpRouter();

/** The smallest HTTP action: a fixed JSON body. */
http.route({
  path: "/basic",
  method: "POST",
  handler: httpAction(async () =>
    Response.json({ hello: "world" }, { status: 200 }),
  ),
});

/** A streamed body: two chunks 20 ms apart. */
http.route({
  path: "/streaming",
  method: "POST",
  handler: httpAction(async () => {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode("<html>"));
        setTimeout(() => {
          controller.enqueue(encoder.encode("</html>"));
          controller.close();
        }, 20);
      },
    });
    return new Response(body, { headers: { "content-type": "text/html" } });
  }),
});

/**
 * Where the routes above are served. Takes an optional `cacheBreaker` so the
 * RunFunction scenario, which sends one to every query, can call it.
 */
export const siteUrl = query({
  args: { cacheBreaker: v.optional(v.number()) },
  handler: async (): Promise<string> => {
    const url = process.env.CONVEX_SITE_URL;
    if (url === undefined) {
      throw new Error("CONVEX_SITE_URL is not set in this deployment");
    }
    return url;
  },
});

export default http;
