// Lists the dataplane's C++ sources for binding.gyp, so adding a file needs no
// edit there. Three sets (docs/dataplane.md, "The N-API surface"):
//   core     the data plane itself, a static library linked into both addons
//   product  vitesse.node: the N-API the product calls (gateway, instance)
//   testkit  vitesse_testkit.node: test and benchmark hooks (esp, crypto,
//            route, io, softbench) and benchmark-only code (the OpenSSL
//            comparison)
// Fuzz targets and standalone tools live beside their code but are in none.
const fs = require('fs');
const path = require('path');
const root = path.join(__dirname, '..');

const entry = 'dataplane/addon.cc';
const product = new Set(['dataplane/pipeline/gateway_napi.cc', 'dataplane/io/instance_napi.cc', 'dataplane/io/peer_napi.cc']);
const testkit = new Set([
  'dataplane/crypto/crypto_napi.cc', 'dataplane/crypto/gcm_bench.cc', 'dataplane/crypto/openssl_gcm.cc',
  'dataplane/esp/esp_napi.cc', 'dataplane/esp/sa_arena_napi.cc', 'dataplane/io/io_napi.cc', 'dataplane/io/traffic.cc',
  'dataplane/route/route_napi.cc', 'dataplane/pipeline/softbench.cc', 'dataplane/pipeline/softbench_napi.cc',
  'dataplane/pipeline/cpu_ceiling.cc', 'dataplane/pipeline/cpu_ceiling_napi.cc',
]);

const all = [];
(function walk(dir) {
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) walk(rel);
    else if (/\.cc$/.test(e.name) && !/(_fuzz|_main)\.cc$/.test(e.name)) all.push(rel);
  }
})('dataplane');
all.sort();

// An N-API file in neither list would silently be in no addon.
for (const f of all) {
  if (/_napi\.cc$/.test(f) && !product.has(f) && !testkit.has(f)) throw new Error(`tools/sources.cjs: ${f} is in neither addon`);
}
const sets = {
  core: all.filter((f) => f !== entry && !product.has(f) && !testkit.has(f)),
  product: [entry, ...product],
  testkit: [entry, ...testkit],
};
const which = process.argv[2] ?? 'core';
if (!Object.hasOwn(sets, which)) throw new Error(`tools/sources.cjs: unknown set "${which}" (core, product, testkit)`);
console.log(sets[which].join(' '));
