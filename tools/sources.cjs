// Lists the dataplane's C++ sources for binding.gyp, so adding a file needs no
// edit there. Fuzz targets and standalone tools live beside their code but are
// not part of the addon.
const fs = require('fs');
const path = require('path');
const root = path.join(__dirname, '..');
const out = [];
(function walk(dir) {
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) walk(rel);
    else if (/\.cc$/.test(e.name) && !/(_fuzz|_main)\.cc$/.test(e.name)) out.push(rel);
  }
})('dataplane');
console.log(out.sort().join(' '));
