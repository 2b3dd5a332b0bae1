// Runs first in every test worker of `npm run test:asan`. The worker was
// started with the ASan runtime preloaded; it loads the sanitized addons now,
// then takes the preload (and the addon choice) out of its environment, so
// the programs tests start run as they normally do: an uninstrumented tool
// with ASan's interceptors stops at its own bugs (iproute2's `ip route get`
// copies a string onto itself), and a child `vitesse run` uses the normal
// build, since the sanitized addon cannot load in a Node without the preload.
import '../controlplane/native.js';
import '../controlplane/testkit.js';

delete process.env.LD_PRELOAD;
delete process.env.VITESSE_ADDON;
