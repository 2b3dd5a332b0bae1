// The configuration of a Vitesse gateway (yang/vitesse-gateway.yang):
// loadConfig/parseConfig check and type it, diffConfig says what a change
// changes, toJson writes it back as RFC 7951 JSON.
export { checkConfig, loadConfig, parseConfig, type Accepted, type ParseOptions } from './parse.js';
export { diffConfig, type Changes, type ConfigDiff, type Mode, type OutboundSaKey } from './diff.js';
export { toJson, type ToJsonOptions } from './json.js';
export { ConfigError, type Problem } from './errors.js';
export { DEFAULTS, LIMITS, REDACTED } from './defaults.js';
export { modelFile } from './model.js';
export type * from './types.js';
