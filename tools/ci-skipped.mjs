#!/usr/bin/env node
// `node tools/ci-skipped.mjs REPORT.json`: fails (exit 1) when vitest's JSON
// report holds a test that was skipped, left to do or never ran. CI installs
// every tool the tests declare (test/support/requires.ts), so there a skip
// means a check silently did not happen.
import fs from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node tools/ci-skipped.mjs REPORT.json (vitest --reporter=json --outputFile=REPORT.json)');
  process.exit(2);
}
const report = JSON.parse(fs.readFileSync(file, 'utf8'));
const notRun = [];
let ran = 0;
for (const suite of report.testResults ?? []) {
  for (const t of suite.assertionResults ?? []) {
    if (t.status === 'passed' || t.status === 'failed') ran++;
    else notRun.push(`${suite.name.replace(process.cwd() + '/', '')}: ${t.fullName} (${t.status})`);
  }
}
if (ran === 0) {
  console.error(`${file}: no test ran`);
  process.exit(1);
}
if (notRun.length) {
  console.error(`${notRun.length} test(s) did not run; CI installs every tool they need, so each is a check that silently did not happen:`);
  for (const line of notRun) console.error(`  ${line}`);
  process.exit(1);
}
console.log(`${ran} tests ran, none skipped`);
