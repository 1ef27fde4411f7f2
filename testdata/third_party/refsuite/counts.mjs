// node counts.mjs REPORT EXCLUDED: prints the passed / failed / excluded
// counts of a vitest JSON report (run.sh), each failing test with its first
// message line, and each excluded test with its reason; exits 1 when a test
// failed, when a test was skipped that excluded.json does not list, or when
// excluded.json lists a test that did not run skipped (renamed or gone).
import { readFileSync } from 'node:fs';

const [reportPath, excludedPath] = process.argv.slice(2);
const report = JSON.parse(readFileSync(reportPath, 'utf8'));
const excluded = JSON.parse(readFileSync(excludedPath, 'utf8'));
const counts = { passed: 0, failed: 0, excluded: 0 };
console.log('== refsuite summary');
const problems = [];
const seen = new Set();
for (const file of report.testResults) {
  if (file.status === 'failed' && file.assertionResults.length === 0) {
    problems.push(`${file.name}: ${(file.message || 'failed to load').split('\n')[0]}`);
  }
  for (const t of file.assertionResults) {
    const name = [...t.ancestorTitles, t.title].join(' ');
    if (t.status === 'passed') {
      counts.passed++;
    } else if (t.status === 'failed') {
      counts.failed++;
      console.log(`FAIL ${name}\n     ${(t.failureMessages[0] || '').split('\n')[0]}`);
    } else if (name in excluded) {
      counts.excluded++;
      seen.add(name);
    } else {
      problems.push(`${name}: ${t.status}, and not listed in excluded.json`);
    }
  }
}
for (const name of Object.keys(excluded)) {
  if (!seen.has(name)) {
    problems.push(`excluded.json lists "${name}", which did not run skipped`);
  }
}
for (const p of problems) {
  console.log(`PROBLEM ${p}`);
}
console.log(`refsuite: ${counts.passed} passed, ${counts.failed} failed, ${counts.excluded} excluded (not applicable: see excluded.json)`);
process.exit(counts.failed > 0 || problems.length > 0 ? 1 : 0);
