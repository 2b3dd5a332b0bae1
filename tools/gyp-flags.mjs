// What optimisation level node-gyp really compiles C++ with. gyp writes the
// flags of a configuration into <target>.target.mk as CFLAGS_<config> (all
// sources) followed by CFLAGS_CC_<config> (C++ only) on the compiler's command
// line; the last -O wins, so an -O1 in cflags is undone by an -O3 in cflags_cc.
import fs from 'node:fs';
import path from 'node:path';

/** A node-gyp directory of its own at `dir`: binding.gyp copied from `root`, the sources linked. */
export function gypDirectory(root, dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(root, 'binding.gyp'), path.join(dir, 'binding.gyp'));
  fs.writeFileSync(path.join(dir, 'package.json'), `{ "name": "${name}", "private": true }\n`);
  for (const d of ['dataplane', 'tools']) {
    const link = path.join(dir, d);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(root, d), link);
  }
}

/** The flags gyp assigned to `name` (a make variable) in a .target.mk text. */
function makeList(mk, name) {
  const m = mk.match(new RegExp(`^${name} :=((?:[^\\n]*\\\\\\n)*[^\\n]*)$`, 'm'));
  if (!m) return [];
  return m[1].replace(/\\\n/g, ' ').split(/\s+/).filter(Boolean);
}

/** The effective -O flag of C++ sources in a configuration ('Release' by default), or null. */
export function cxxOptimization(mkFile, config = 'Release') {
  const mk = fs.readFileSync(mkFile, 'utf8');
  const flags = [...makeList(mk, `CFLAGS_${config}`), ...makeList(mk, `CFLAGS_CC_${config}`)];
  const levels = flags.filter((f) => /^-O[0-9sgz]?$/.test(f));
  return levels.length ? levels[levels.length - 1] : null;
}
