// ESLint (flat config) with typescript-eslint: the recommended rules of both, without type information (fast,
// no tsconfig project needed). Part of `npm test` (`npm run check`: eslint, prettier --check, knip).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/**', 'out/**', 'media/webview.js', '.e2e/**', 'node_modules/**', 'test-fixtures/**', 'bench-results/**'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks a binding kept on purpose (destructuring that drops a field).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
  {
    // Node scripts (ES modules).
    files: ['**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // The CLI's launcher is CommonJS (it must run before the bundle is known to exist).
    files: ['bin/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The webview page script runs in the browser.
    files: ['client/src/webview/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
