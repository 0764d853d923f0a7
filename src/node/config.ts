// Node configuration, the one place other modules import it from. Sources, highest
// precedence first: CLI flags > environment (RATIFY_*) > JSON config file (--config) >
// defaults. The parts, one concept each, live in src/node/config/:
//   types.ts     NodeConfig, what each setting means
//   field.ts     what one setting's declaration holds (flag, env var, file key, parser, default, range)
//   fields.ts    the node's field table (the transaction layer's is txFields in src/tx/config.ts)
//   parse.ts     the value parsers shared by both tables
//   sources.ts   reading flags, environment and file, and layering them
//   validate.ts  ranges, relations between fields, identities, peers, secrets, TLS
//   resolve.ts   sources -> validated NodeConfig
export { type ConfigFieldInfo, configFields, nodeConfigDefaults, snakeUpper, txConfigFields } from './config/fields.js';
export { type ListenAddress, parseListen, parsePeers } from './config/parse.js';
export { resolveNodeConfig } from './config/resolve.js';
export type { ConfigSources, RawConfig } from './config/sources.js';
export { type NodeConfig, STATE_MACHINES, type StateMachineKind } from './config/types.js';
export { nodeConfigErrors, validateNodeConfig } from './config/validate.js';
