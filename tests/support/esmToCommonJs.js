// Jest transformer for the ESM-only packages jest.config.js names: esbuild rewrites their import and
// export statements as CommonJS, which jest's runtime loads (the plugin process loads them natively).
const { transformSync } = require("esbuild");

module.exports = {
  process(source, file) {
    const { code, map } = transformSync(source, { loader: "js", format: "cjs", target: "node20", sourcefile: file, sourcemap: "external" });
    return { code, map };
  },
};
