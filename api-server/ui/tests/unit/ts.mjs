// Loads a dependency-free TypeScript module of src/ for a unit test: TypeScript's own transpiler (a devDependency
// already) turns it into an ES module in a temporary directory, which is then imported.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const src = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");
const out = mkdtempSync(join(tmpdir(), "meshglass-ui-unit-"));

/** `import`s src/<name>.ts. */
export async function load(name) {
  const text = readFileSync(join(src, `${name}.ts`), "utf8");
  const js = ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
  const file = join(out, `${name.replace(/\//g, "_")}.mjs`);
  writeFileSync(file, js);
  return import(pathToFileURL(file).href);
}
