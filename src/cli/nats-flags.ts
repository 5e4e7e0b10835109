/**
 * The NATS credential and TLS flags shared by `tbg publisher` and `tbg collector`, resolved into the
 * one {@link NatsAuth} every NATS client uses (src/events/nats-options.ts). Secrets can come from the
 * environment instead of the command line, where any local user could read them in `ps`.
 */
import type { NatsAuth } from "../pipeline/events/nats-options.ts";

/** parseArgs options of the NATS flags. */
export const NATS_FLAG_OPTIONS = {
  "nats-token": { type: "string" },
  "nats-user": { type: "string" },
  "nats-pass": { type: "string" },
  "nats-creds": { type: "string" },
  "nats-tls-ca": { type: "string" },
  "nats-tls-cert": { type: "string" },
  "nats-tls-key": { type: "string" },
} as const;

/** Help text lines of the NATS flags. */
export const NATS_FLAG_HELP = `  --nats-token T         NATS token (or env TBG_NATS_TOKEN, which keeps it out of ps)
  --nats-user U          NATS user (or env TBG_NATS_USER); password: --nats-pass or env TBG_NATS_PASS
  --nats-creds FILE      NATS .creds file (JWT + nkey seed)
  --nats-tls-ca FILE     CA certificate of the NATS server (PEM); enables TLS
  --nats-tls-cert FILE   client certificate (PEM), with --nats-tls-key FILE`;

/** Flags (as parsed) + environment + optional file values → credentials; flags win, then env, then file. */
export function natsAuthFrom(flags: Record<string, unknown>, env: NodeJS.ProcessEnv, file: NatsAuth = {}): NatsAuth {
  const s = (k: keyof typeof NATS_FLAG_OPTIONS) => flags[k] as string | undefined;
  return {
    token: s("nats-token") ?? env.TBG_NATS_TOKEN ?? file.token ?? null,
    user: s("nats-user") ?? env.TBG_NATS_USER ?? file.user ?? null,
    pass: s("nats-pass") ?? env.TBG_NATS_PASS ?? file.pass ?? null,
    credsFile: s("nats-creds") ?? file.credsFile ?? null,
    tlsCaFile: s("nats-tls-ca") ?? file.tlsCaFile ?? null,
    tlsCertFile: s("nats-tls-cert") ?? file.tlsCertFile ?? null,
    tlsKeyFile: s("nats-tls-key") ?? file.tlsKeyFile ?? null,
  };
}
