import { defineApp } from "convex/server";
import counter from "../counterComponent/convex.config";

const app = defineApp();
app.use(counter);
export default app;
