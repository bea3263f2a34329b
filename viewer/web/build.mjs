// `make web` runs this (after `npm ci`): bundles src/ into dist/ (what `vrdream serve` serves and
// the wheel ships), and the test-only WebXR emulator (iwer) into test-build/ (never shipped).
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
await build({
  entryPoints: ["src/main.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  outfile: "dist/app.js",
  legalComments: "linked", // three.js's MIT notice, in dist/app.js.LEGAL.txt
  loader: { ".glsl": "text" }, // viewer/equirect_uv.glsl, shared with the GL viewer
});
copyFileSync("src/index.html", "dist/index.html");
await build({
  entryPoints: ["test/iwer-runtime.js"],
  bundle: true,
  format: "iife",
  target: "es2020",
  outfile: "test-build/iwer-runtime.js",
});
