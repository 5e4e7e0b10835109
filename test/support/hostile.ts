/** Miner-supplied strings meant to break a page or a terminal: markup, quotes, NUL, ESC, RTL override. */
export const HOSTILE_WORKER = `x<script>window.__pwned=1</script>"'\u0000\u202eexe.jpg`;
export const HOSTILE_AGENT = `<img src=x onerror="window.__pwned=2">\u001b[2J\u202e'"`;
