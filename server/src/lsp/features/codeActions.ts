/**
 * Quick fixes (LSP code actions) for the config diagnostics that know their fix: a misspelt key renamed to the
 * suggested one, a value out of range clamped into it, an enum value or a file name changed to the suggestion; and
 * for a model config whose data file is missing while labelled data sits beside the model, the data path set to it
 * and "Create a config from the model" (the command that writes one beside the model).
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CodeActionKind, type CodeAction, type Diagnostic } from 'vscode-languageserver';
import type { ConfigDoc } from '../documents/configs';
import { dataBesideModel } from '../../pipeline/model/modelConfig';
import type { ConfigFix } from '../../config/types';
import { Commands } from '../../../../shared/protocol';
import { DIAGNOSTIC_SOURCE } from './diagnostics';

/** The text a fix writes: a key as is, a value as a YAML/JSON scalar (strings quoted, which both formats read). */
function fixText(fix: ConfigFix, json: boolean): string {
  if (fix.kind === 'renameKey') return json ? JSON.stringify(fix.to) : fix.to;
  return typeof fix.value === 'number' ? String(fix.value) : JSON.stringify(fix.value);
}

/**
 * The quick fixes for the diagnostics of a request (those this server published, carrying `data.fix`).
 * @param doc the config document
 * @param diagnostics the diagnostics the client asks about (in its context)
 */
export function configCodeActions(doc: ConfigDoc, diagnostics: Diagnostic[]): CodeAction[] {
  const json = /\.json$/i.test(doc.path);
  const out: CodeAction[] = [];
  for (const d of diagnostics) {
    if (d.source !== DIAGNOSTIC_SOURCE) continue;
    const data = d.data as { pointer?: string; fix?: ConfigFix } | undefined;
    if (data?.fix) {
      out.push({
        title: data.fix.title,
        kind: CodeActionKind.QuickFix,
        diagnostics: [d],
        isPreferred: true,
        edit: { changes: { [doc.uri]: [{ range: d.range, newText: fixText(data.fix, json) }] } },
      });
    }
    if (data?.pointer === '/data' && /data file not found/.test(d.message)) {
      // The labelled data beside the model may be the very file the spelling fix suggests: offer that edit once.
      const written = new Set(out.flatMap((a) => a.edit?.changes?.[doc.uri]?.map((e) => e.newText) ?? []));
      out.push(...modelDataFixes(doc, d).filter((a) => !a.edit || !a.edit.changes![doc.uri].every((e) => written.has(e.newText))));
    }
  }
  return out;
}

/** A model config whose data file is missing: the labelled data beside the model, and a config made from the model. */
function modelDataFixes(doc: ConfigDoc, d: Diagnostic): CodeAction[] {
  const model = doc.outline.value('/attention/model');
  if (doc.outline.value('/attention/kind') !== 'model' || typeof model !== 'string') return [];
  const abs = path.resolve(path.dirname(doc.path), model);
  const data = dataBesideModel(abs);
  if (!data) return [];
  const rel = path.relative(path.dirname(doc.path), data).split(path.sep).join('/');
  return [
    {
      title: `Use ${rel} (the labelled data beside ${path.basename(abs)})`,
      kind: CodeActionKind.QuickFix,
      diagnostics: [d],
      edit: { changes: { [doc.uri]: [{ range: d.range, newText: JSON.stringify(rel) }] } },
    },
    {
      title: `Create a config from ${path.basename(abs)} and ${path.basename(data)}`,
      kind: CodeActionKind.QuickFix,
      diagnostics: [d],
      command: { title: 'Create Config for ONNX Model', command: Commands.createModelConfig, arguments: [pathToFileURL(abs).href] },
    },
  ];
}
