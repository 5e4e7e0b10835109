/**
 * Per-miner coinbase halves, built once per (template, payout) and reused for every share and notify.
 * Solo mining: each miner's coinbase pays its own address and may carry its own signature (SPEC §4),
 * so coinb1/coinb2 differ per user while the merkle branch and job id are shared.
 */
import { buildCoinbase, payoutOutputs } from "../bitcoin/coinbase.ts";
import type { TemplateWork } from "./template.ts";

export interface CoinbaseParts {
  coinb1: Buffer;
  coinb2: Buffer;
  coinb1Hex: string;
  coinb2Hex: string;
  /** The signature text actually placed (after truncation). */
  signatureUsed: string;
}

/** Who a coinbase pays and what it says. `key` identifies the pair for caching. */
export interface Payout {
  key: string;
  script: Buffer;
  signature: string;
}

export interface CoinbaseFactoryOptions {
  extranonce1Size: number;
  extranonce2Size: number;
  /** Pool fee/donation percent to `donationScript` (0 = none). */
  donationPercent: number;
  donationScript: Buffer | null;
  /** Told once per (template, payout) when the signature had to be truncated. */
  onWarning?: (message: string) => void;
}

export class CoinbaseFactory {
  private readonly cache = new WeakMap<TemplateWork, Map<string, CoinbaseParts>>();

  constructor(private readonly opts: CoinbaseFactoryOptions) {}

  parts(template: TemplateWork, payout: Payout): CoinbaseParts {
    let perTemplate = this.cache.get(template);
    if (!perTemplate) {
      perTemplate = new Map();
      this.cache.set(template, perTemplate);
    }
    let parts = perTemplate.get(payout.key);
    if (!parts) {
      parts = this.build(template, payout);
      perTemplate.set(payout.key, parts);
    }
    return parts;
  }

  private build(template: TemplateWork, payout: Payout): CoinbaseParts {
    const outputs = payoutOutputs({
      coinbaseValueSats: template.coinbaseValueSats,
      minerScript: payout.script,
      donationPercent: this.opts.donationScript ? this.opts.donationPercent : 0,
      donationScript: this.opts.donationScript ?? undefined,
    });
    const built = buildCoinbase({
      height: template.height,
      signatureText: payout.signature,
      extranonce1Size: this.opts.extranonce1Size,
      extranonce2Size: this.opts.extranonce2Size,
      outputs,
      witnessCommitmentScript: template.witnessCommitmentScript ?? undefined,
    });
    for (const w of built.warnings) this.opts.onWarning?.(w);
    return {
      coinb1: built.coinb1,
      coinb2: built.coinb2,
      coinb1Hex: built.coinb1.toString("hex"),
      coinb2Hex: built.coinb2.toString("hex"),
      signatureUsed: built.signatureUsed,
    };
  }
}
