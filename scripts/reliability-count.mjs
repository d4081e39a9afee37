// The cases of the test suite that test each class of issue 26 (docs/guide/errors.md, "Reliability"):
//   npx vitest list --json > /tmp/tests.json && node scripts/reliability-count.mjs /tmp/tests.json
// A case in a class's own test file belongs to that class; any other case to the first class (in the order below) whose words its name holds; the rest test what each module computes.
import { readFileSync } from 'node:fs';
const tests = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const rel = (f) => f.slice(f.lastIndexOf('/test/') + 1);
// [class, its own test files, names elsewhere that test it]; each case counts once, in the first class that claims it.
const classes = [
  [
    '1. security of writes',
    /^test\/(security\/writes|base\/atomic)\./,
    /symbolic link|symlink|dangling|temporar|rescue|atomic|O_EXCL|O_NOFOLLOW|read-only|full disk|ENOSPC|EROFS|\block(ed)?\b|overwrit/i,
  ],
  ['2. security of prints', /^test\/security\/prints\./, /escape|terminal|neutralis|\bOSC\b|\bCSI\b|bidi|control char|shorten/i],
  ['3. no lost results', /^test\/cli\/faults\./, /rescu|\blost\b|broken pipe|EPIPE|head -1|still written|\bkept\b|whole line|every output/i],
  ['6. checks that tell the truth', /^test\/(security\/checks|check\/)/, /gradcheck|--bug|catches|mutant|verif|checksum|the truth/i],
  ['5. numbers right or refused', /^test\/security\/numbers\./, /diverg|overflow|\bNaN\b|non-finite|not finite|Infinity|underflow|align|out of range|\bulp|oracle|PyTorch|by hand|hand-computed/i],
  [
    '4. no internal errors',
    /^test\/(security\/no-internal-error|cli\/bad-input)\./,
    /internal error|stack|one line|one-line|exit (code )?2|refus|FIFO|ulimit|\/dev\/zero|SIG(INT|TERM|HUP|KILL|PIPE)/i,
  ],
];
// A case in a class's own file belongs to it; any other case to the first class whose words its name holds.
const owner = (t) => classes.find(([, own]) => own.test(rel(t.file))) ?? classes.find(([, , words]) => words.test(t.name));
const rows = classes.map((c) => {
  const mine = tests.filter((t) => owner(t) === c);
  return [c[0], mine.filter((t) => c[1].test(rel(t.file))).length, mine.length];
});
for (const [name, own, all] of rows.sort()) console.log(`| ${name} | ${own} | ${all - own} | ${all} |`);
const modules = {};
for (const t of tests) {
  const m = rel(t.file)
    .split('/')[1]
    .replace(/\.test\.ts$/, '');
  modules[m] = (modules[m] ?? 0) + 1;
}
console.log(
  `| 7. tests in every module | ${Object.entries(modules)
    .sort((a, b) => b[1] - a[1])
    .map(([m, n]) => `${m} ${n}`)
    .join(', ')} |`,
);
console.log(`other cases (what each module computes): ${tests.filter((t) => !owner(t)).length} of ${tests.length}`);
