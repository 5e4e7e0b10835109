import type { ESLint } from "eslint";
/** Folder (relative to src/) → the folders its files may import, besides itself. */
export const LAYERS: Record<string, string[]>;
/** The layer folder of a path relative to src/, or null. */
export function layerOf(rel: string): string | null;
declare const plugin: ESLint.Plugin;
export default plugin;
