// How a change reaches the running gateway, all or nothing (DESIGN.md §5):
//
//   edit the running configuration's JSON (keys included) → keys sent back as
//   "<redacted>" keep their value → validate the whole result (parseConfig) →
//   diff → refuse what needs a restart → refuse if the file changed on disk
//   since it was loaded → write the new file to a temporary name → apply the
//   delta (Gateway.apply) → rename the file into place (config-file.ts).
//
// Nothing changes unless the whole new configuration is valid and live-
// applicable; routes the change does not touch keep their SAs. Changes are
// applied one at a time, in the order they arrive.
import type { Logger } from 'pino';
import { checkConfig, ConfigError, diffConfig, parseConfig, toJson, type Accepted, type ConfigDiff, type GatewayConfig } from '../config/index.js';
import { TOP } from '../config/defaults.js';
import { LIVE_SETTINGS, type Gateway } from '../gateway.js';
import { ConfigFile, FileChangedError, type FileText } from './config-file.js';
import { restoreSecrets } from './edit.js';
import { RestconfError, type RestconfErrorEntry } from './errors.js';
import { isObject, type Json } from './path.js';

export interface ChangeOrigin {
  /** e.g. "PATCH /restconf/data/vitesse-gateway:gateway/route=site2" */
  request: string;
  /** "unix uid=U pid=P" (api/peer.ts) or the TCP peer's address:port. */
  peer: string;
}

export class ConfigChanger {
  private queue: Promise<unknown> = Promise.resolve();
  // What the last change checked, while its result is the running
  // configuration: entries a change leaves alone are not read again.
  private accepted: { config: GatewayConfig; accepted: Accepted } | null = null;
  private readonly saved: ConfigFile | null;

  constructor(
    private readonly gw: Gateway,
    private readonly log: Logger,
    /** Where a successful change is written back (so a restart keeps it); none: not written. */
    readonly file: string | null = null,
  ) {
    this.saved = file ? new ConfigFile(file, log) : null;
  }

  /** The running configuration as RFC 7951 JSON, keys included (never sent out as it is). */
  private currentDocument(): Json {
    return toJson(this.gw.currentConfig, { secrets: true })[TOP] as Json;
  }

  /**
   * Applies `edit` to a copy of the running configuration's content (the
   * gateway container) and makes the result the running configuration.
   * Throws a RestconfError, with nothing changed, if it cannot.
   */
  change<T>(origin: ChangeOrigin, edit: (doc: Json) => { doc: Json; result: T }): Promise<{ diff: ConfigDiff; result: T }> {
    const run = this.queue.then(() => this.changeNow(origin, edit));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Applies the configuration file as it is now (SIGHUP), in turn with API
   * changes, so that a reload never reads a file an API change is about to
   * replace. Throws what loading or Gateway.apply throws. The file is read
   * with the descriptor reserve: a reload works when clients hold every
   * other descriptor.
   */
  reload(): Promise<ConfigDiff> {
    const run = this.queue.then(async () => {
      if (!this.saved) throw new Error('no configuration file to reload');
      let read: FileText;
      try {
        read = this.saved.read();
      } catch (e) {
        throw new ConfigError([{ path: '/', reason: `cannot read the file: ${(e as Error).message}` }], this.file!);
      }
      const next = parseConfig(read.text, { source: this.file! });
      const diff = this.gw.apply(next);
      this.saved.loaded(read);
      this.log.info({ file: this.file, ...summary(diff) }, diff.empty ? 'configuration reloaded: nothing differs' : 'configuration reloaded');
      return diff;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async changeNow<T>(origin: ChangeOrigin, edit: (doc: Json) => { doc: Json; result: T }): Promise<{ diff: ConfigDiff; result: T }> {
    const from = this.gw.currentConfig;
    const current = this.currentDocument();
    // A second rendering rather than structuredClone of the first: the same
    // independent copy for the edit to modify, in a third of the time.
    const { doc, result } = edit(this.currentDocument());
    if (!isObject(doc)) throw RestconfError.of('invalid-value', 'the configuration must be a JSON object', { path: `/${TOP}` });
    restoreSecrets(doc, current);
    // Between the steps of a change to a large configuration, the key
    // exchange, ARP, ICMP and metrics get their turn (each step takes time in
    // proportion to the routes; together they would hold the event loop).
    await yieldTurn();
    let next: GatewayConfig;
    let accepted: Accepted | null;
    try {
      // The running configuration passed these checks: only what the edit changed is read and judged again.
      const prior = this.accepted?.config === from ? this.accepted.accepted : { document: { [TOP]: current } };
      ({ config: next, accepted } = checkConfig({ [TOP]: doc }, { accepted: prior }));
    } catch (e) {
      if (e instanceof ConfigError) {
        this.log.warn({ ...origin, problems: e.problems }, 'configuration change refused: invalid');
        throw RestconfError.fromConfigError(e);
      }
      throw e;
    }
    await yieldTurn();
    const diff = diffConfig(from, next);
    const restart = needsRestart(diff);
    if (restart.length) {
      this.log.warn({ ...origin, needsRestart: restart.map((e) => e['error-path']) }, 'configuration change refused: needs a restart');
      throw new RestconfError(501, restart);
    }
    if (diff.empty) {
      this.log.info(origin, 'configuration change requested: nothing differs');
      return { diff, result };
    }
    const temp = this.saved ? await this.writeTemp(next, origin) : null;
    try {
      this.log.info({ ...origin, ...summary(diff) }, 'configuration change requested');
      this.gw.apply(next, { from, diff });
    } catch (e) {
      if (temp) this.saved!.discard(temp);
      const message = e instanceof Error ? e.message : String(e);
      this.log.error({ ...origin, err: e }, 'configuration change failed to apply');
      throw RestconfError.of('operation-failed', `the gateway could not apply the change: ${message}`);
    }
    this.accepted = accepted ? { config: next, accepted } : null;
    if (temp) await this.commitFile(temp, origin);
    return { diff, result };
  }

  private async writeTemp(next: GatewayConfig, origin: ChangeOrigin): Promise<{ temp: string; target: string; text: string }> {
    const file = this.saved!;
    try {
      file.checkUnchanged();
    } catch (e) {
      if (!(e instanceof FileChangedError)) throw e;
      this.log.warn({ ...origin, file: this.file }, 'configuration change refused: the file changed on disk');
      throw RestconfError.of('resource-denied', `the configuration file ${e.message}`, { status: 409 });
    }
    try {
      return await file.writeTemp(JSON.stringify(toJson(next, { secrets: true }), null, 2) + '\n');
    } catch (e) {
      throw RestconfError.of('operation-failed', `nothing was changed: cannot write beside ${this.file}: ${(e as Error).message}`);
    }
  }

  private async commitFile(temp: { temp: string; target: string; text: string }, origin: ChangeOrigin): Promise<void> {
    const file = this.file!;
    try {
      await this.saved!.commit(temp);
    } catch (e) {
      this.log.error({ ...origin, file, err: e }, 'configuration change applied but not saved: a restart would undo it');
      throw RestconfError.of('partial-operation', `the change is running but was not saved to ${file} (${(e as Error).message}): a restart would undo it`);
    }
  }
}

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Errors for every difference a running gateway cannot take (Gateway.apply would refuse them too). */
export function needsRestart(diff: ConfigDiff): RestconfErrorEntry[] {
  const out: RestconfErrorEntry[] = diff.settings
    .filter((s) => !LIVE_SETTINGS.has(s))
    .map((s) => ({
      'error-type': 'application',
      'error-tag': 'operation-not-supported',
      'error-path': `/${TOP}/${s}`,
      'error-message': 'changing this needs a restart of the gateway; nothing was changed',
    }));
  if (diff.mode) {
    out.push({
      'error-type': 'application',
      'error-tag': 'operation-not-supported',
      'error-path': `/${TOP}/data-plane`,
      'error-message': `switching from ${diff.mode.from} to ${diff.mode.to} mode needs a restart of the gateway; nothing was changed`,
    });
  }
  return out;
}

/** What a change changes, for the log (names only: no key material). */
function summary(d: ConfigDiff): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (d.settings.length) out.settings = d.settings;
  const routes = Object.fromEntries(Object.entries({ added: d.routes.added, removed: d.routes.removed, changed: d.routes.changed }).filter(([, v]) => v.length));
  if (Object.keys(routes).length) out.routes = routes;
  return out;
}
