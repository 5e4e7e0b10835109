/**
 * Miner-supplied strings meant to break a page or a terminal: markup, quotes, ESC, RTL override. The
 * worker name carries no control character: the Stratum boundary refuses such a username at authorize
 * (test/hardening/poisoned-strings.test.ts); a user agent is kept with them replaced.
 */
export const HOSTILE_WORKER = `x<script>window.__pwned=1</script>"'\u202eexe.jpg`;
export const HOSTILE_AGENT = `<img src=x onerror="window.__pwned=2">\u001b[2J\u202e'"`;
