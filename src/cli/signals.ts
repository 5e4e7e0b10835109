/** Resolves with the signal's name at the first SIGINT or SIGTERM (then stops listening). */
export function untilStopSignal(): Promise<"SIGINT" | "SIGTERM"> {
  return new Promise((resolve) => {
    const on = (sig: "SIGINT" | "SIGTERM") => () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(sig);
    };
    const onInt = on("SIGINT");
    const onTerm = on("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
}
