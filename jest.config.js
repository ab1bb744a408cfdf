/** @type {import('jest').Config} */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  // Type errors are caught once by `tsc --noEmit` in `npm test`; ts-jest only transpiles.
  // @kubernetes/client-node and the OIDC client it imports are ESM-only packages, which jest's
  // CommonJS runtime cannot load as they are: esbuild turns them into CommonJS (about 3 times as fast
  // as ts-jest on a cold cache; the plugin process loads them natively, with require(esm)).
  transform: {
    "^.+\\.ts$": ["ts-jest", { diagnostics: false }],
    "/node_modules/.+\\.js$": "<rootDir>/tests/support/esmToCommonJs.js",
  },
  transformIgnorePatterns: ["/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose)/)"],
  testTimeout: 30000,
};
