// What the engine's plugin loads: providers/dynamic/registry.ts and every project module it
// imports, compiled into build/. Resource classes are the program's half
// (docs/architecture.md#dynamic-providers): a provider module that imported one would load the
// program's side into the plugin and close an import cycle through providers/dynamic/resource.ts,
// which imports the registry's key type.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import * as ts from "typescript";

const ROOT = join(__dirname, "..", "..");

/** The project's modules `entry` reaches through its relative imports (type-only ones too), as paths from the root. */
function reach(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    const rel = relative(ROOT, file);
    if (seen.has(rel)) return;
    seen.add(rel);
    for (const { fileName } of ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const base = resolve(dirname(file), fileName);
      const found = [`${base}.ts`, `${base}.js`, join(base, "index.ts")].find(existsSync);
      if (!found) throw new Error(`${rel}: cannot resolve ${fileName}`);
      visit(found);
    }
  };
  visit(entry);
  return seen;
}

test("the registry reaches provider modules only: no resource class, nothing of the program, no cycle", () => {
  const reached = [...reach(join(ROOT, "providers", "dynamic", "registry.ts"))];
  expect(reached).toContain("providers/paperless/provider.ts");
  const resourceSide = reached.filter((f) => f === "providers/dynamic/resource.ts" || f.endsWith("/resources.ts"));
  const program = reached.filter((f) => !/^(providers|core)\//.test(f));
  expect({ resourceSide, program }).toEqual({ resourceSide: [], program: [] });
});
