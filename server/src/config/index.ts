/** Public API of the config module: load/parse a config file, the schema, defaults and setting expansion. */
export { parseConfig, loadConfig, type ParseConfigOptions, type ParseConfigResult } from './load';
export { defaultConfig, CONFIG_DEFAULTS } from './defaults';
export { expandSettings } from './expand';
export { configSchema, configSchemaJson, BUILTIN_TASKS, ATTENTION_KINDS, READOUTS, type JsonSchema } from './schema';
export { ConfigError, type AnalysisConfig, type AttentionSettings, type BuiltinTask, type ConfigIssue, type SolverSettings } from './types';
