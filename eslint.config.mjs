// Lint (npm run lint, part of npm test): typescript-eslint's type-aware rules, so a promise nobody
// awaits and an `any` that leaks into typed code are errors. Formatting is prettier's (.prettierrc.json).
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["build/", "bin/", "rendered/", "node_modules/", "tools/"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Providers and test doubles implement async interfaces (Pulumi's dynamic provider, the doctor's
      // checks) whose methods may answer without awaiting: `async` is how they return the promise.
      "@typescript-eslint/require-await": "off",
      // The project compiles to CommonJS; its few require() calls are deliberate (require(esm) of
      // client-node when a cluster is first reached, a file written at run time, jest.isolateModules).
      "@typescript-eslint/no-require-imports": "off",
      // Errors are rewritten to name the value and the fix, with what matters of the cause in the
      // message; a `cause` would print the original again, with its stack, wherever Node inspects it.
      "preserve-caught-error": "off",
      // tsc's conventions (noUnusedParameters): a parameter named with a leading _ is kept on purpose,
      // and a rest pattern may drop the keys it destructures.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
  {
    // Tests only: jest's asymmetric matchers (expect.any, expect.stringMatching, objectContaining) are
    // typed `any`, the tests read what the real servers answer (kubectl -o json, Vault, paperless, the
    // rendered YAML) and feed raw configs the types refuse on purpose. The promise rules stay errors.
    files: ["tests/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  {
    // Plain CommonJS run by Node as is (load.js must run without the build; kubectlShim.js is the test
    // cluster's kubectl; jest.config.js): Node's globals, no type information.
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
);
