/**
 * Handshakes that mimic real devices, so the pool under test sees what it will see in
 * the field: message order, pipelining, user agent, version-rolling request and difficulty hints.
 */
import { ClientAuthorizeError, ClientSubscribeError } from "./errors.ts";
import { errorMessage, parseSubscribeResult } from "./messages.ts";
import type { RequestAnswer, StratumClient } from "./stratum-client.ts";

/** Names accepted by `--profile`. */
export const PROFILE_NAMES = ["bitaxe", "cpuminer", "cgminer", "antminer", "nerdminer"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** One message of a handshake. */
export type HandshakeStep = "configure" | "subscribe" | "extranonce.subscribe" | "authorize" | "suggest_difficulty";

/** How a device opens a session. */
export interface HandshakeProfile {
  name: ProfileName;
  /** subscribe params[0]. */
  userAgent: string;
  /** Messages in send order. */
  steps: readonly HandshakeStep[];
  /** true: send every step at once, before any answer (current ESP-Miner, ESP-Miner#917 log). */
  pipelined: boolean;
  /** BIP310 version-rolling request, when the profile sends configure. */
  configure?: { maskHex: string; minBitCount?: number };
  /** suggest_difficulty value when the caller gives none. */
  defaultSuggestDifficulty?: number;
  /** Re-send suggest_difficulty at this interval (NerdMiner's 30 s keepalive, NerdMiner_v2#620). */
  suggestRepeatMs?: number;
}

/** The device profiles. */
export const PROFILES: Readonly<Record<ProfileName, HandshakeProfile>> = {
  // ESP-Miner ≥ 2.x: configure(ffffffff) first, all four pipelined; suggest after authorize because ckpool
  // drops a suggest from an unauthorised client (ESP-Miner#353, #913); suggest is an array [1000] (#686, #98).
  bitaxe: {
    name: "bitaxe",
    userAgent: "bitaxe/BM1370/v2.7.0",
    steps: ["configure", "subscribe", "authorize", "suggest_difficulty"],
    pipelined: true,
    configure: { maskHex: "ffffffff" },
    defaultSuggestDifficulty: 1000,
  },
  // cpuminer (pooler): waits for the subscribe answer, then authorizes. No configure, no hints.
  cpuminer: {
    name: "cpuminer",
    userAgent: "cpuminer/2.5.1",
    steps: ["subscribe", "authorize"],
    pipelined: false,
  },
  // cgminer 4.x: subscribe, then extranonce.subscribe (NiceHash extension), then authorize; no version rolling.
  cgminer: {
    name: "cgminer",
    userAgent: "cgminer/4.12.1",
    steps: ["subscribe", "extranonce.subscribe", "authorize"],
    pipelined: false,
  },
  // bmminer (Antminer with ASICBoost): configure with the BIP320 mask and min-bit-count 2 (BIP310 example).
  antminer: {
    name: "antminer",
    userAgent: "bmminer/2.0.0",
    steps: ["configure", "subscribe", "extranonce.subscribe", "authorize"],
    pipelined: false,
    configure: { maskHex: "1fffe000", minBitCount: 2 },
  },
  // NerdMiner v2: subscribe, authorize, suggest_difficulty [0.0001], the suggest repeated every 30 s.
  nerdminer: {
    name: "nerdminer",
    userAgent: "NerdMinerV2",
    steps: ["subscribe", "authorize", "suggest_difficulty"],
    pipelined: false,
    defaultSuggestDifficulty: 0.0001,
    suggestRepeatMs: 30_000,
  },
};

/** Looks a profile up by name; undefined for unknown names. */
export function getProfile(name: string): HandshakeProfile | undefined {
  return (PROFILE_NAMES as readonly string[]).includes(name) ? PROFILES[name as ProfileName] : undefined;
}

/** Caller's side of a handshake. */
export interface HandshakeOptions {
  /** `ADDRESS[.worker]`. */
  user: string;
  /** Default "x". */
  pass?: string;
  /** Overrides the profile's suggestion; also makes profiles without one send suggest_difficulty. */
  suggestDifficulty?: number;
  /** Overrides the profile's user agent. */
  userAgent?: string;
}

/** Outcome of a successful handshake. */
export interface HandshakeResult {
  extranonce1Hex: string;
  extranonce2Size: number;
  /** Granted version-rolling mask (0: none asked or none granted). */
  versionMask: number;
  /** Round trip per answered step, ms. */
  rttMs: Partial<Record<HandshakeStep, number>>;
  /** First message sent → last required answer, ms. */
  handshakeMs: number;
}

/**
 * Runs `profile`'s handshake on a connected client. Subscribe and authorize must succeed (throws
 * {@link ClientSubscribeError} / {@link ClientAuthorizeError}); configure failures mean "no rolling";
 * suggest_difficulty and extranonce.subscribe are not awaited (ckpool and public-pool often do not answer
 * them).
 */
export async function runHandshake(client: StratumClient, profile: HandshakeProfile, opts: HandshakeOptions, now: () => number = () => performance.now()): Promise<HandshakeResult> {
  const suggest = opts.suggestDifficulty ?? profile.defaultSuggestDifficulty;
  const steps = profile.steps.filter((s) => s !== "suggest_difficulty" || suggest !== undefined);
  if (suggest !== undefined && !steps.includes("suggest_difficulty")) steps.push("suggest_difficulty");
  const rttMs: Partial<Record<HandshakeStep, number>> = {};
  const started = now();

  const sendStep = (step: HandshakeStep): Promise<RequestAnswer> | undefined => {
    switch (step) {
      case "configure": {
        const c = profile.configure ?? { maskHex: "ffffffff" };
        const params: Record<string, unknown> = { "version-rolling.mask": c.maskHex };
        if (c.minBitCount !== undefined) params["version-rolling.min-bit-count"] = c.minBitCount;
        return client.request("mining.configure", [["version-rolling"], params]);
      }
      case "subscribe":
        return client.request("mining.subscribe", [opts.userAgent ?? profile.userAgent]);
      case "authorize":
        return client.request("mining.authorize", [opts.user, opts.pass ?? "x"]);
      case "extranonce.subscribe":
        void client.request("mining.extranonce.subscribe", []).catch(() => undefined);
        return undefined;
      case "suggest_difficulty":
        void client.request("mining.suggest_difficulty", [suggest]).catch(() => undefined);
        return undefined;
    }
  };

  const finishStep = async (step: HandshakeStep, answer: Promise<RequestAnswer>): Promise<void> => {
    if (step === "configure") {
      // A pool that does not know configure answers with an error (or not at all): mine without rolling.
      // (The client applies the granted mask itself as the answer arrives.)
      const a = await answer.catch(() => undefined);
      if (a) rttMs.configure = a.rttMs;
      return;
    }
    const a = await answer;
    rttMs[step] = a.rttMs;
    if (step === "subscribe") {
      if (a.error) throw new ClientSubscribeError(`mining.subscribe refused: ${errorMessage(a.error)}`);
      try {
        parseSubscribeResult(a.result); // the client has applied it already; this reports a bad one
      } catch (err) {
        throw new ClientSubscribeError(`mining.subscribe: unusable result ${JSON.stringify(a.result)}`, { cause: err });
      }
    } else if (step === "authorize") {
      if (a.result !== true || a.error) throw new ClientAuthorizeError(opts.user, errorMessage(a.error));
    }
  };

  if (profile.pipelined) {
    const waits: Promise<void>[] = [];
    for (const step of steps) {
      const answer = sendStep(step);
      if (answer) waits.push(finishStep(step, answer));
    }
    // Await all, but surface the first failure in send order (subscribe before authorize).
    const settled = await Promise.allSettled(waits);
    for (const s of settled) if (s.status === "rejected") throw s.reason;
  } else {
    for (const step of steps) {
      const answer = sendStep(step);
      if (answer) await finishStep(step, answer);
    }
  }
  const handshakeMs = now() - started;

  if (suggest !== undefined && profile.suggestRepeatMs) {
    const timer = setInterval(() => client.send("mining.suggest_difficulty", [suggest]), profile.suggestRepeatMs);
    timer.unref();
    client.once("close", () => clearInterval(timer));
  }
  return {
    extranonce1Hex: client.extranonce1Hex,
    extranonce2Size: client.extranonce2Size,
    versionMask: client.versionMask,
    rttMs,
    handshakeMs,
  };
}
