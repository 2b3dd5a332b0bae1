// Where a packed tarball carries its prebuilt addons (tools/prebuild.mjs
// writes them, tools/install.mjs uses them).
import path from 'node:path';

export const ADDONS = ['vitesse.node', 'vitesse_testkit.node'];
export const PLATFORM = `${process.platform}-${process.arch}`;
export const prebuiltDir = (root) => path.join(root, 'prebuilds', PLATFORM);
