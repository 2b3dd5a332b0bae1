// Both gateways of a TwoSiteLab (controlplane/demo/two-sites.ts) in this
// process, af-packet on both sides of each, started, with the tunnel up.
import type { Logger } from 'pino';
import { parseConfig } from '../../controlplane/config/index.js';
import { waitForTunnel } from '../../controlplane/demo/demo.js';
import type { TwoSiteLab } from '../../controlplane/demo/two-sites.js';
import { Gateway } from '../../controlplane/gateway.js';

/** [gwA, gwB], started; resolves once the tunnel carries traffic. The caller closes them. */
export async function startAfPacketGateways(lab: TwoSiteLab, logger: Logger, extra: { txGso?: boolean } = {}): Promise<Gateway[]> {
  const gateways: Gateway[] = [];
  for (const [config, ns] of [[lab.configA, lab.ns.gwA], [lab.configB, lab.ns.gwB]] as const) {
    const link = (device: string) => ({ driver: 'af-packet' as const, ifname: device, netns: ns, ...extra });
    const gw = new Gateway(parseConfig(config), { logger, links: { private: link('private'), public: link('public') } });
    gateways.push(gw);
    gw.start();
  }
  await waitForTunnel(lab, performance.now());
  return gateways;
}
