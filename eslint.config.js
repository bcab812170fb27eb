// Type-aware lint: the async rules catch promises that are neither awaited nor handled,
// which in a background poller silently loses errors.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'var/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // The upload thread's loader shim (src/uploads/uploadThreadEntry.mjs) is plain JavaScript.
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
