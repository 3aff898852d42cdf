import { action } from "./_generated/server";

const LINES = 256;
const LINE_LENGTH = 512;

/** Logs 256 lines of 512 characters: measures the cost of log streaming. */
export default action({
  args: {},
  handler: async () => {
    for (let i = 0; i < LINES; i++) {
      console.log(`line ${i} `.padEnd(LINE_LENGTH, "x"));
    }
  },
});
