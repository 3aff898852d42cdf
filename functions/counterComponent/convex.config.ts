import { defineComponent } from "convex/server";

// A component has its own tables and functions; the app reaches them only
// through `components.counter.*`.
export default defineComponent("counter");
