// Loaded into a gateway process under test (node --import …) before anything
// else: it records the built-in prototypes as they are, and on SIGUSR2 writes
// one line to stderr saying what changed since — members added, removed or
// replaced on Object.prototype, Array.prototype, Function.prototype and
// String.prototype — as `PROTOTYPES {"Object.prototype":{"added":[…],…}}`
// ({} when nothing did). Tests of requests that try to pollute a prototype
// read it after each attack.
const watched = { 'Object.prototype': Object.prototype, 'Array.prototype': Array.prototype, 'Function.prototype': Function.prototype, 'String.prototype': String.prototype };
const snapshot = (o) => new Map(Reflect.ownKeys(o).map((k) => [k, Object.getOwnPropertyDescriptor(o, k)]));
const baseline = Object.fromEntries(Object.entries(watched).map(([n, o]) => [n, snapshot(o)]));
const same = (a, b) => a.value === b.value && a.get === b.get && a.set === b.set && a.writable === b.writable && a.enumerable === b.enumerable && a.configurable === b.configurable;
process.on('SIGUSR2', () => {
  const diff = {};
  for (const [name, o] of Object.entries(watched)) {
    const before = baseline[name];
    const now = snapshot(o);
    const added = [...now.keys()].filter((k) => !before.has(k)).map(String);
    const removed = [...before.keys()].filter((k) => !now.has(k)).map(String);
    const replaced = [...now.keys()].filter((k) => before.has(k) && !same(before.get(k), now.get(k))).map(String);
    if (added.length || removed.length || replaced.length) diff[name] = { added, removed, replaced };
  }
  process.stderr.write(`PROTOTYPES ${JSON.stringify(diff)}\n`);
});
