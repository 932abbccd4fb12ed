// UI checks through the page of a real VS Code (code-server) with the extension installed from its VSIX:
// what only the screen shows — code lens and inlay hint text, the command palette, the charts webview
// (SVG charts with marks: U₁, head relevance, head removal predicted vs measured, kernel-PC overlap, width sweep),
// the prune and sweep commands with their quick inputs, squiggles and the Problems panel, the .onnx custom editor
// and the config it creates for a model. Each step saves a PNG screenshot under the artifacts folder.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { until } from './harness.mjs';

const CHARTS_FRAME = 'iframe.webview.ready';

/**
 * What the editor should show for a config: the pipeline's own analysis of it, in the texts the server, client and
 * charts write (e2e/expectedRun.ts, bundled by `scripts/build.mjs --e2e`) — no literal numbers in these checks.
 */
async function expectedTexts(configPath) {
  const bundle = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '.e2e', 'out', 'expected.cjs');
  return createRequire(import.meta.url)(bundle).expectedTexts(configPath);
}

/** Runs a palette command by its title ("Attention Paths: Show Theory Charts"). */
async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: 30_000 });
  await page.keyboard.press('Enter');
}

/** Opens a workspace file with Quick Open (Ctrl+P). */
async function quickOpen(page, name) {
  // Click the row of exactly this file: other names may contain the same text (model.onnx, model.attention.yaml).
  const row = page
    .locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${name.replace(/\./g, '\\.')}$`) }) })
    .first();
  // Quick Open answers from a file index that learns of a just-created file only through the file watcher:
  // when the row is not there yet, close the picker and ask again (about 30 s in all).
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill(name);
    try {
      await row.waitFor({ state: 'visible', timeout: 5_000 });
      break;
    } catch (e) {
      if (attempt >= 6) throw e;
      await page.keyboard.press('Escape');
    }
  }
  await row.click();
  await page.locator(`.tabs-container .tab[aria-label*="${name}"]`).first().waitFor({ state: 'visible', timeout: 30_000 });
}

/** Opens `folder/name` by clicking through the explorer tree (folder row, then file row). */
async function openFromExplorer(page, folder, name) {
  const rowNamed = (n) =>
    page
      .locator('.explorer-folders-view .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${n.replace(/\./g, '\\.')}$`) }) })
      .first();
  await rowNamed(folder).waitFor({ state: 'visible', timeout: 30_000 });
  const file = rowNamed(name);
  // The folder row toggles: click it until the file row shows (the tree may refresh in between).
  for (let attempt = 0; attempt < 6 && !(await file.isVisible()); attempt++) {
    if ((await rowNamed(folder).getAttribute('aria-expanded')) !== 'true') await rowNamed(folder).click();
    await file.waitFor({ state: 'visible', timeout: 5_000 }).catch(() => undefined);
  }
  await file.click();
  await page.locator(`.tabs-container .tab[aria-label*="${name}"]`).first().waitFor({ state: 'visible', timeout: 30_000 });
}

/** The page inside the (single visible) webview. */
function webview(page) {
  return page.frameLocator(CHARTS_FRAME).first().frameLocator('#active-frame');
}

/**
 * Runs every UI step; returns the list of step results. Throws on the first failed step (after saving a
 * screenshot of the failure).
 * @param {import('playwright-core').Page} page a page showing the workbench with the fixture workspace
 * @param {{ artifacts: string, workspace: string, log: (m: string) => void }} o
 */
export async function runUiChecks(page, o) {
  const steps = [];
  // Computed before any step edits the config.
  const ex = await expectedTexts(path.join(o.workspace, 'markov.attention.yaml'));
  const shot = (name) => page.screenshot({ path: path.join(o.artifacts, name) });
  const step = async (name, fn) => {
    const t = Date.now();
    try {
      await fn();
      steps.push({ name, ok: true, ms: Date.now() - t });
      o.log(`  ✔ ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    } catch (e) {
      steps.push({ name, ok: false, ms: Date.now() - t, error: e.message });
      o.log(`  ✖ ${name}: ${e.message}`);
      await shot(`ui-failed-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`).catch(() => undefined);
      throw e;
    }
  };

  await step('the config shows the analysis code lens and the head inlay hints', async () => {
    await quickOpen(page, 'markov.attention.yaml');
    const lens = page.locator('.codelens-decoration', { hasText: ex.lens.split(' · ')[0] });
    await lens.first().waitFor({ state: 'visible', timeout: 120_000 });
    const text = await page.locator('.codelens-decoration').first().innerText();
    if (!text.includes(ex.lens)) throw new Error(`code lens text: ${text}; expected ${ex.lens}`);
    // Compared without blanks: the editor renders spaces and inlay-hint padding as various blank characters.
    const squeeze = (t) => t.replace(/[\s\p{Zs}\p{Cf}]+/gu, '');
    const lines = async () => page.locator('.view-lines').innerText();
    const hints = squeeze(`heads: [2 ${ex.hints[0]}, 2 ${ex.hints[1]}]`);
    await until('the inlay hints', async () => squeeze(await lines()).includes(hints), 30_000).catch(async (e) => {
      const text = await lines();
      throw new Error(
        `${e.message}; the editor shows: ${JSON.stringify(text)} (code points ${[...text]
          .filter((c) => c.codePointAt(0) > 126)
          .map((c) => c.codePointAt(0).toString(16))
          .join(' ')})`,
      );
    });
    await until('the prunable-head squiggle', async () => (await page.locator('.squiggly-info').count()) > 0, 30_000);
    await shot('ui-01-config-codelens.png');
  });

  await step('the palette runs "Show Theory Charts" and the webview draws SVG charts with marks', async () => {
    await runCommand(page, 'Attention Paths: Show Theory Charts');
    const view = webview(page);
    await view.locator('#u1-heatmap svg').waitFor({ state: 'visible', timeout: 60_000 });
    await view.locator('#head-scores svg').waitFor({ state: 'visible', timeout: 60_000 });
    const cells = await view.locator('#u1-heatmap svg g.mark-rect.role-mark path').count();
    const bars = await view.locator('#head-scores svg g.mark-rect.role-mark path').count();
    if (cells !== 16 || bars !== 4) throw new Error(`expected 16 heatmap cells and 4 head bars, got ${cells} and ${bars}`);
    const title = await view.locator('#u1-heatmap svg').innerHTML();
    if (!title.includes(ex.heatmapTitle)) throw new Error(`the heatmap title ${ex.heatmapTitle} is missing`);
    // Single charts take the panel's width (Vega width "container").
    const pageWidth = await view.locator('#root').evaluate((e) => e.clientWidth);
    const barsWidth = await view.locator('#head-scores svg').evaluate((e) => e.getBoundingClientRect().width);
    if (!(barsWidth > 0.85 * pageWidth)) throw new Error(`the head chart is ${barsWidth} px wide in a ${pageWidth} px panel`);
    await shot('ui-02-theory-charts.png');
  });

  await step('the attention maps: one tile per head, one row per layer, with a picker of the test examples', async () => {
    const view = webview(page);
    const maps = view.locator('#attention-maps');
    await maps.locator('svg').waitFor({ state: 'visible', timeout: 60_000 });
    const tiles = await maps.locator('svg g.mark-rect.role-mark').count();
    if (tiles !== 4) throw new Error(`expected 4 attention tiles (2 layers × 2 heads), got ${tiles}`);
    const svg = await maps.locator('svg').innerHTML();
    for (const t of ex.heads.map((h) => h.tileTitle)) if (!svg.includes(t)) throw new Error(`no tile titled ${t}`);
    await view.locator('#attention-example').selectOption('2');
    await until('the maps of test example 2', async () => (await maps.locator('svg').innerHTML()).includes('test example 2'), 30_000);
    await maps.scrollIntoViewIfNeeded();
    await shot('ui-02d-attention-maps.png');
  });

  await step('a chart is exported as SVG from its toolbar', async () => {
    const view = webview(page);
    await view.locator('#head-scores .toolbar button[data-export="svg"]').click();
    const file = page.locator('.quick-input-widget input');
    await until('the save dialog', async () => /markov\.head-scores\.svg$/.test(await file.inputValue()), 30_000);
    await page.keyboard.press('Enter');
    const saved = path.join(o.workspace, 'markov.head-scores.svg');
    await until('the exported SVG', () => existsSync(saved) && /^<svg/.test(readFileSync(saved, 'utf8')), 30_000);
  });

  await step('after an edit whose analysis fails, the charts stay under a "Failed" banner', async () => {
    // The config's editor is in the first group, the charts beside it: edit there, keeping the charts in view.
    await runCommand(page, 'View: Focus First Editor Group');
    // Line 5 is `heads: [2, 2]`: the task's attention has [2, 2] heads, so [3, 2] fails in the analysis.
    await page.keyboard.press('Control+G');
    await page.keyboard.type('5');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Home');
    await page.keyboard.press('Shift+End');
    await page.keyboard.type('heads: [3, 2]');
    const view = webview(page);
    const banner = view.locator('#state-banner');
    await until('the failed banner', async () => /^Failed: heads: the config says \[3, 2\]/.test((await banner.innerText().catch(() => '')) ?? ''), 60_000);
    if ((await view.locator('#u1-heatmap svg').count()) !== 1) throw new Error('the last result is not shown under the banner');
    await shot('ui-02e-failed-banner.png');
    // The original line again: the cached result, and no banner.
    await page.keyboard.press('Home');
    await page.keyboard.press('Shift+End');
    await page.keyboard.type('heads: [2, 2]');
    await until('the banner gone', async () => !(await banner.isVisible()), 60_000);
  });

  await step('the charts include the kernel-PC overlap (Fig. 2c) and the accuracy with each head removed', async () => {
    const view = webview(page);
    await view.locator('#pc-overlap svg').waitFor({ state: 'visible', timeout: 60_000 });
    await view.locator('#head-removal svg').waitFor({ state: 'visible', timeout: 60_000 });
    // Two curves (finite width, GP limit) of 30 points each (k = min(30, P = 60)).
    const lines = await view.locator('#pc-overlap svg g.mark-line.role-mark path').count();
    const pcPoints = await view.locator('#pc-overlap svg g.mark-symbol.role-mark path').count();
    if (lines !== 2 || pcPoints !== 60) throw new Error(`expected 2 PC-overlap lines with 60 points, got ${lines} and ${pcPoints}`);
    // No model behind this config: one predicted point per head and the full model's rule, labelled as predicted only.
    const heads = await view.locator('#head-removal svg g.mark-symbol.role-mark path').count();
    if (heads !== 4) throw new Error(`expected 4 predicted head-removal points, got ${heads}`);
    const text = await view.locator('#head-removal svg').innerHTML();
    if (!text.includes('predicted only: nothing measured')) throw new Error('the head-removal chart does not say that nothing was measured');
    await view.locator('#head-removal').scrollIntoViewIfNeeded();
    await shot('ui-02b-head-removal.png');
    await view.locator('#pc-overlap').scrollIntoViewIfNeeded();
    await shot('ui-02c-pc-overlap.png');
  });

  await step('"Sweep Width" adds accuracy and ε_g against N to the charts', async () => {
    await quickOpen(page, 'markov.attention.yaml');
    await runCommand(page, 'Attention Paths: Sweep Width');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill('10,100,1000,10000');
    await page.keyboard.press('Enter');
    const view = webview(page);
    await view.locator('#sweep svg').waitFor({ state: 'visible', timeout: 120_000 });
    const points = await view.locator('#sweep svg g.mark-symbol.role-mark path').count();
    if (points !== 8) throw new Error(`expected 8 sweep points (4 widths × accuracy, ε_g), got ${points}`);
    await view.locator('#sweep').scrollIntoViewIfNeeded();
    await shot('ui-03-width-sweep.png');
  });

  await step('"Prune Heads..." offers the heads by relevance and writes the plan with the predicted effect', async () => {
    await quickOpen(page, 'markov.attention.yaml');
    await runCommand(page, 'Attention Paths: Prune Heads...');
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'L1·H1' }).first();
    await row.waitFor({ state: 'visible', timeout: 60_000 });
    const rowText = await row.innerText();
    const least = ex.heads.find((h) => h.name === 'L1·H1');
    if (!rowText.includes(least.pickDescription)) throw new Error(`head row: ${rowText}; expected ${least.pickDescription}`);
    await shot('ui-04-prune-pick.png');
    await page.keyboard.press('Enter'); // accept the pre-selected head (below the threshold)
    const file = page.locator('.quick-input-widget input');
    await until('the save dialog', async () => /pruned-heads\.json$/.test(await file.inputValue()), 30_000);
    await page.keyboard.press('Enter');
    const toast = page.locator('.notifications-toasts', { hasText: ex.pruneToastStart({ layer: 1, head: 1 }) });
    await toast.first().waitFor({ state: 'visible', timeout: 60_000 });
    const plan = path.join(o.workspace, 'markov.pruned-heads.json');
    await until('the plan file', () => existsSync(plan), 10_000);
    const removed = JSON.parse(readFileSync(plan, 'utf8')).removed.map((h) => `${h.layer}.${h.head}`);
    if (removed.join() !== '1.1') throw new Error(`plan removes ${removed}`);
    await shot('ui-05-prune-result.png');
  });

  await step('a broken config shows error squiggles and its problems in the Problems panel', async () => {
    await runCommand(page, 'View: Close All Editors');
    await quickOpen(page, 'broken.attention.yaml');
    await until('error squiggles', async () => (await page.locator('.squiggly-error').count()) >= 2, 30_000);
    await runCommand(page, 'View: Focus Problems');
    const row = page.locator('.markers-panel .monaco-list-row', { hasText: 'temperature (T_B) must be a number > 0 (got -0.5)' });
    await row.first().waitFor({ state: 'visible', timeout: 30_000 });
    await page.locator('.markers-panel .monaco-list-row', { hasText: 'unknown key "widht"; did you mean "widths"?' }).first().waitFor({ state: 'visible' });
    await shot('ui-06-problems.png');
  });

  await step('the quick fix renames the misspelt key', async () => {
    await quickOpen(page, 'broken.attention.yaml');
    await page.keyboard.press('Control+G');
    await page.keyboard.type('4');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Home');
    await page.keyboard.press('Control+.');
    const fix = page.locator('.action-widget .monaco-list-row', { hasText: 'Rename "widht" to "widths"' }).first();
    await fix.waitFor({ state: 'visible', timeout: 30_000 });
    await shot('ui-06b-quick-fix.png');
    // The menu takes keys (a pointer block lies over it): move to the rename and apply it with Enter.
    for (let i = 0; i < 4 && !/\bfocused\b/.test((await fix.getAttribute('class')) ?? ''); i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await until('the renamed key', async () => (await page.locator('.view-lines').innerText()).replace(/\s+/g, ' ').includes('widths: 10'), 30_000);
    await until('one error left', async () => (await page.locator('.squiggly-error').count()) === 1, 30_000);
    await page.keyboard.press('Control+Z');
  });

  await step('an .npz file opens in the array viewer: keys, shapes, statistics, label balance', async () => {
    await runCommand(page, 'View: Close All Editors');
    await quickOpen(page, 'data.npz');
    const view = webview(page);
    await view.locator('table.arrays tr[data-array="y"]').waitFor({ state: 'visible', timeout: 60_000 });
    const x = await view.locator('table.arrays tr[data-array="X"]').innerText();
    if (!/\[256, 12, 16\]/.test(x)) throw new Error(`X row: ${x}`);
    const y = await view.locator('#array-y').innerText();
    if (!/label -1/.test(y) || !/label 1/.test(y)) throw new Error(`y section: ${y}`);
    await shot('ui-06c-npz-viewer.png');
  });

  await step('the .onnx custom editor opens and lists the attention blocks and heads', async () => {
    await runCommand(page, 'View: Close All Editors');
    await runCommand(page, 'Notifications: Clear All Notifications');
    await runCommand(page, 'View: Hide Panel');
    await quickOpen(page, 'model.onnx');
    const view = webview(page);
    await view.locator('h3', { hasText: 'Block 0' }).waitFor({ state: 'visible', timeout: 60_000 });
    const heads = await view.locator('.head').count();
    if (heads !== 8) throw new Error(`expected 8 heads (2 blocks × 4), got ${heads}`);
    // Not analysed yet: the note says where relevance comes from and offers the config that names this model.
    const note = await view.locator('.note').innerText();
    if (!/model\.attention\.yaml names this model/.test(note) || /not available/.test(note)) throw new Error(`model view note: ${note}`);
    await view.locator('.actions button', { hasText: 'Analyze model.attention.yaml' }).waitFor({ state: 'visible' });
    await shot('ui-07-onnx-editor.png');
    // Each block drawn as its subgraph: projections, scale, softmax, merge, output projection.
    const graph = view.locator('#block-graph-0');
    await graph.locator('svg').waitFor({ state: 'visible', timeout: 30_000 });
    for (const role of ['qkv', 'softmax', 'merge', 'output']) {
      if ((await graph.locator(`g.node.role-${role}`).count()) < 1) throw new Error(`block 0 draws no ${role} node`);
    }
    await graph.scrollIntoViewIfNeeded();
    await shot('ui-07b-block-subgraph.png');
  });

  await step('once a config analyses the model: its prediction next to the Python code, relevance bars in the model view', async () => {
    await runCommand(page, 'View: Close All Editors');
    await runCommand(page, 'Notifications: Clear All Notifications');
    await quickOpen(page, 'model.attention.yaml');
    await page.locator('.codelens-decoration', { hasText: 'Predicted test accuracy' }).first().waitFor({ state: 'visible', timeout: 120_000 });
    // The model's 8 heads (2 blocks × 4) in one hint on its `model:` line, none cut off: "L0 #.. #.. #.. #.. · L1 …".
    const squeezeAll = (t) => t.replace(/[\s\p{Zs}\p{Cf}]+/gu, '');
    await until('the full-width inlay hint', async () => /L0(#\d){4}·L1(#\d){4}/.test(squeezeAll(await page.locator('.view-lines').innerText())), 30_000).catch(
      async (e) => {
        throw new Error(`${e.message}; the editor shows: ${JSON.stringify(await page.locator('.view-lines').innerText())}`);
      },
    );
    if ((await page.locator('.view-lines').innerText()).includes('…')) throw new Error('an inlay hint is cut off');
    await shot('ui-08a-model-inlay-hints.png');
    await quickOpen(page, 'train.py');
    const pyLens = page
      .locator('.codelens-decoration', { hasText: /model\.onnx: predicted \d+\.\d% \(measured \d+\.\d%\) · top heads L\d·H\d, L\d·H\d, L\d·H\d/ })
      .first();
    await pyLens.waitFor({ state: 'visible', timeout: 60_000 });
    await shot('ui-08-python-codelens.png');
    await quickOpen(page, 'model.onnx');
    const view = webview(page);
    await view.locator('.head .value', { hasText: '(#1)' }).waitFor({ state: 'visible', timeout: 60_000 });
    const ranked = await view.locator('.head .value', { hasText: /relevance \d\.\d{3} \(#\d\)/ }).count();
    if (ranked !== 8) throw new Error(`expected relevance on 8 heads, got ${ranked}`);
    await shot('ui-09-onnx-editor-relevance.png');
    // A warning's node name links to that node in its block's drawing.
    // The names are in the warnings' details (collapsed under each one-line headline): open them first.
    await view.locator('ul.warnings details').evaluateAll((ds) => ds.forEach((d) => (d.open = true)));
    const link = view.locator('ul.warnings a.node-link').first();
    await link.waitFor({ state: 'visible', timeout: 30_000 });
    await link.click();
    await view.locator('.block-graph g.node.focused').waitFor({ state: 'visible', timeout: 10_000 });
    await shot('ui-09b-warning-links-to-node.png');
  });

  await step("the model config's charts show the measured accuracy of each head's removal next to the prediction", async () => {
    await runCommand(page, 'View: Close All Editors');
    await quickOpen(page, 'model.attention.yaml');
    await runCommand(page, 'Attention Paths: Show Theory Charts');
    const view = webview(page);
    await view.locator('#head-removal svg').waitFor({ state: 'visible', timeout: 60_000 });
    const points = await view.locator('#head-removal svg g.mark-symbol.role-mark path').count();
    if (points !== 16) throw new Error(`expected 8 predicted and 8 measured points, got ${points}`);
    const text = await view.locator('#head-removal svg').innerHTML();
    if (!/measured on \d+ test examples/.test(text)) throw new Error('the head-removal chart does not name the measurement');
    await view.locator('#head-removal').scrollIntoViewIfNeeded();
    await shot('ui-10-model-head-removal.png');
  });

  await step('a model with data beside it and no config: the model view creates the config and analyses it', async () => {
    await runCommand(page, 'View: Close All Editors');
    await runCommand(page, 'Notifications: Clear All Notifications');
    const other = path.join(o.workspace, 'other');
    mkdirSync(other, { recursive: true });
    copyFileSync(path.join(o.workspace, 'models', 'model.onnx'), path.join(other, 'tiny.onnx'));
    copyFileSync(path.join(o.workspace, 'models', 'data.npz'), path.join(other, 'tiny.npz'));
    // A file created during the session: open it from the explorer, whose tree follows the file watcher
    // (Quick Open's file index may not list it yet).
    await openFromExplorer(page, 'other', 'tiny.onnx');
    const view = webview(page);
    const button = view.locator('.actions button', { hasText: 'Create tiny.attention.yaml and analyze' });
    await button.waitFor({ state: 'visible', timeout: 60_000 });
    await shot('ui-11-onnx-create-config.png');
    await button.click();
    const config = path.join(other, 'tiny.attention.yaml');
    await until('the new config file', () => existsSync(config), 30_000);
    await page.locator('.codelens-decoration', { hasText: 'Predicted test accuracy' }).first().waitFor({ state: 'visible', timeout: 120_000 });
    // The model view (still open beside the config) fills in the relevance bars from the new analysis.
    await view.locator('.head .value', { hasText: '(#1)' }).waitFor({ state: 'visible', timeout: 60_000 });
    const ranked = await view.locator('.head .value', { hasText: /relevance \d\.\d{3} \(#\d\)/ }).count();
    if (ranked !== 8) throw new Error(`expected relevance on 8 heads of tiny.onnx, got ${ranked}`);
    if (!/^data: "tiny\.npz"$/m.test(readFileSync(config, 'utf8'))) throw new Error('the created config does not name tiny.npz');
    await shot('ui-12-onnx-config-created.png');
  });

  return steps;
}
