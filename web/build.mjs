// `make assets`: bundle our browser entry points with esbuild into the git-ignored static/vendor
// folder. The bpmnlint rules the modeler runs are compiled from the repository's .bpmnlintrc
// (the same rules `make lint-bpmn` runs) into build/, also git-ignored. Works offline once
// `npm ci` has filled node_modules.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const vendor = path.join(root, "src/orchestrator/web/static/vendor");
const generated = path.join(root, "build/web");

async function lintConfig() {
  const compileConfig = require("bpmnlint/lib/support/compile-config");
  const config = JSON.parse(await readFile(path.join(root, ".bpmnlintrc"), "utf8"));
  await mkdir(generated, { recursive: true });
  await writeFile(path.join(generated, "bpmnlint-config.js"), await compileConfig(config));
}

await lintConfig();
await esbuild.build({
  entryPoints: { "modeler.bundle": path.join(root, "web/modeler/index.js") },
  outdir: vendor,
  bundle: true,
  minify: true,
  sourcemap: false,
  format: "iife",
  target: ["es2020"],
  legalComments: "linked",
  loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".svg": "dataurl" },
  assetNames: "modeler-assets/[name]-[hash]",
  alias: { "orchestrator-bpmnlint-config": path.join(generated, "bpmnlint-config.js") },
  logLevel: "warning",
});
console.log("web/build.mjs: modeler.bundle.js and modeler.bundle.css written to", path.relative(root, vendor));
