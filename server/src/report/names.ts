/** Head and layer names live in the shared contract, shared/format.ts; re-exported for the language server's features. */
export { headInLayerName, headName, layerName } from '../../../shared/format';
