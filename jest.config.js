/** @type {import('jest').Config} */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  // Type errors are caught once by `tsc --noEmit` in `npm test`; ts-jest only transpiles.
  // @kubernetes/client-node and the OIDC client it imports are ESM-only packages, which jest's
  // CommonJS runtime cannot load as they are: ts-jest turns them into CommonJS too (the plugin
  // process loads them natively, with require(esm)).
  transform: {
    "^.+\\.ts$": ["ts-jest", { diagnostics: false }],
    "/node_modules/.+\\.js$": ["ts-jest", { diagnostics: false, tsconfig: { allowJs: true, module: "commonjs", target: "ES2022", esModuleInterop: true } }],
  },
  transformIgnorePatterns: ["/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose)/)"],
  testTimeout: 30000,
};
