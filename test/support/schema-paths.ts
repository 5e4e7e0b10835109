/** Field paths of a zod v4 object schema (`a.b`, `list[].c`), for docs tests. `hashrate_hs` window objects count as one field. */
import type { z } from "zod";

interface Def {
  type: string;
  shape?: Record<string, unknown>;
  element?: unknown;
  innerType?: unknown;
}

export function schemaPaths(schema: z.ZodType): string[] {
  const out: string[] = [];
  const def = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;
  const walk = (s: unknown, prefix: string): void => {
    let d = def(s);
    while ((d.type === "nullable" || d.type === "optional" || d.type === "default") && d.innerType) d = def(d.innerType);
    if (d.type === "object" && !prefix.endsWith("hashrate_hs")) {
      for (const [k, v] of Object.entries(d.shape!)) {
        const p = prefix ? `${prefix}.${k}` : k;
        out.push(p);
        walk(v, p);
      }
    } else if (d.type === "array") walk(d.element, `${prefix}[]`);
  };
  walk(schema, "");
  return out;
}
