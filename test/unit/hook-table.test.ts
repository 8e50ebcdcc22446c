// doctor's copy of the addon's hook table (for hosts where the addon cannot load) is the addon's own.
import { expect, it } from 'vitest';
import { loadBinding } from '../../src/backends/native/binding.js';
import { HOOK_TABLE } from '../../src/backends/native/hook-table.js';
import { describeAddon } from '../support/kernel-gate.js';

describeAddon('the TypeScript hook table matches the one the addon was compiled with', () => {
  it('has the same hooks, categories, required flags and fallbacks, in the same order', () => {
    expect(loadBinding().hookTable()).toEqual(HOOK_TABLE);
  });
});
