/** Formats a uint32 as 8 lowercase hex digits, big-endian (Stratum's encoding of version/nbits/ntime, job and session ids). */
export function u32hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}
