// Lint: the recommended JS and TypeScript rules, plus the one-way import rule for src/ (eslint/layers.js);
// type-aware rules are left to `tsc --noEmit`.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import layers from "./eslint/layers.js";

export default tseslint.config(
  { ignores: ["node_modules/**", ".tbg-dev/**", "coverage/**", "**/*.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", setImmediate: "readonly", URL: "readonly", performance: "readonly", queueMicrotask: "readonly", AbortController: "readonly", structuredClone: "readonly", TextEncoder: "readonly", TextDecoder: "readonly", fetch: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "warn",
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    // Imports inside src/ run one way (eslint/layers.js, docs/architecture.md).
    files: ["src/**/*.ts", "src/**/*.mjs"],
    plugins: { tbg: layers },
    rules: { "tbg/layers": "error" },
  },
  {
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly", module: "writable", __dirname: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
