#!/usr/bin/env node
// `npm run fuzz [-- --inputs N --seed S --workers W --targets a,b]`: the Stratum parser, the session
// state machine and the collector's event decoding under ≥ 1,000,000 generated inputs
// (test/hardening/fuzz/fuzz-main.ts). Prints inputs, crashes, violations and hangs; exit 1 on any finding.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../test/hardening/fuzz/fuzz-main.ts");
process.exitCode = await main(process.argv.slice(2));
