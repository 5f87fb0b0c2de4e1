// Every suite imports the built package by its name, so the exports map is what is tested.
import { beforeAll } from 'vitest';
import { init } from 'bce-wasm';

beforeAll(async () => {
  await init();
});
