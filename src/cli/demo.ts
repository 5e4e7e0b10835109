/** A valid regtest P2WPKH address for demos and help texts (hash160 of nothing in particular). */
export const REGTEST_DEMO_ADDRESS = "bcrt1qs758ursh4q9z627kt3pp5yysm78ddny6txaqgw";
